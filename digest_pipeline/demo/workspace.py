"""A simulated Slack workspace that answers the Web API like Slack does.

:class:`DemoWorkspace` implements :class:`~digest_pipeline.defs.slack.models.SlackApi`, so the
production extraction code runs unchanged against it. Content is generated on demand, one
channel-hour block at a time, and is deterministic (:mod:`digest_pipeline.demo.generate` says
how); this module serves it with Slack's semantics and keeps recently used blocks in memory.

* The clock (:attr:`DemoWorkspace.now`) hides everything posted later, including replies: a
  parent's ``reply_count``, ``latest_reply`` and ``reply_users`` count only visible replies.

The ground truth (which scenario a message belongs to) never enters a payload; ask
:meth:`DemoWorkspace.scenario_of`.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from digest_pipeline.defs.slack.emulation import (
    TsWindow,
    conversations_page,
    encode_cursor,
    error,
    list_page,
    param_limit,
    ts_cursor,
)
from digest_pipeline.defs.slack.models import ApiStats
from digest_pipeline.demo import content as c
from digest_pipeline.demo.blocks import (
    HOUR_US,
    LATE_HOURS,
    LOOKBACK_HOURS,
    US,
    Block,
    Chan,
    Thread,
    copy_json,
    parse_ts,
    thread_fields,
    ts_text,
)
from digest_pipeline.demo.generate import Generator


class DemoWorkspace:
    """A deterministic, Slack-shaped workspace for demos, tests and benchmarks.

    ``seed`` picks the content, ``scale`` multiplies the message volume linearly (1.0 is about
    3,000 messages on a weekday), ``now`` is the workspace clock (tz-aware; defaults to the real
    time) and may be reassigned to let time pass.
    """

    def __init__(self, seed: int = 7, scale: float = 1.0, now: datetime | None = None) -> None:
        if scale < 0:
            raise ValueError("scale must be >= 0")
        self.seed = seed
        self.scale = scale
        self.stats = ApiStats()
        self.now = now if now is not None else datetime.now(UTC)
        people = {p.name: p for p in c.PEOPLE}
        self._channels = tuple(Chan(i, spec, people) for i, spec in enumerate(c.CHANNELS))
        self._by_id = {ch.id: ch for ch in self._channels}
        self._cache: OrderedDict[tuple[int, int], Block] = OrderedDict()
        self._cached_messages = 0
        self._cache_limit = 600_000
        self._gen = Generator(seed, scale)
        self._methods: dict[str, Callable[[Mapping[str, Any]], dict[str, Any]]] = {
            "auth.test": self._auth_test,
            "team.info": self._team_info,
            "conversations.list": self._conversations_list,
            "conversations.info": self._conversations_info,
            "users.list": self._users_list,
            "conversations.history": self._history,
            "conversations.replies": self._replies,
        }

    # -- clock ---------------------------------------------------------------------------------

    @property
    def now(self) -> datetime:
        return self._now

    @now.setter
    def now(self, value: datetime) -> None:
        if value.tzinfo is None:
            raise ValueError("DemoWorkspace.now must be timezone-aware")
        self._now = value.astimezone(UTC)
        self._now_us = int(self._now.timestamp()) * US + self._now.microsecond

    # -- public API ----------------------------------------------------------------------------

    @property
    def channel_ids(self) -> tuple[str, ...]:
        return tuple(ch.id for ch in self._channels)

    def channel_id(self, name: str) -> str:
        """The ID of a channel by name (``"supply-chain"`` or ``"#supply-chain"``)."""
        name = name.lstrip("#")
        for ch in self._channels:
            if ch.spec.name == name:
                return ch.id
        raise KeyError(name)

    def call(self, method: str, params: Mapping[str, Any]) -> dict[str, Any]:
        self.stats.calls[method] += 1
        handler = self._methods.get(method)
        if handler is None:
            return error("unknown_method")
        return handler(params or {})

    def iter_messages(self, start: datetime, end: datetime) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every message and reply posted in ``[start, end)`` (and not after ``now``) in the
        channels the bot can read, as ``(channel_id, message)``; per channel, roughly in time order.

        Parents carry thread fields as of ``now``. Messages are fresh objects: mutate freely.
        """
        lo = int(start.timestamp()) * US + start.microsecond
        hi = min(int(end.timestamp()) * US + end.microsecond, self._now_us + 1)
        if hi <= lo:
            return
        now_us = self._now_us
        first, last = lo // HOUR_US, (hi - 1) // HOUR_US
        for ch in self._channels:
            if not ch.spec.is_member:
                continue
            lo_ch = lo
            hi_ch = min(hi, ch.end_us + 1) if ch.end_us is not None else hi
            if hi_ch <= lo_ch:
                continue
            # Old blocks whose late follow-ups land in the window.
            for hour in range(max(first - LATE_HOURS, ch.first_hour), first - LOOKBACK_HOURS):
                late = self._gen.late_schedule(ch, hour)
                if any(lo_ch <= us < hi_ch for us in late):
                    block = self._gen.block(ch, hour)
                    for thread in block.threads:
                        for us, reply in zip(thread.reply_us, thread.replies, strict=True):
                            if lo_ch <= us < hi_ch:
                                yield ch.id, reply
            for hour in range(max(first - LOOKBACK_HOURS, ch.first_hour), last + 1):
                block = self._gen.block(ch, hour)
                for us, message, thread, is_broadcast in block.top:
                    if is_broadcast:
                        continue  # yielded as a reply
                    if lo_ch <= us < hi_ch:
                        if thread is not None:
                            fields = thread_fields(thread, now_us)
                            if fields:
                                message.update(fields)
                        yield ch.id, message
                for thread in block.threads:
                    if thread.reply_us and thread.reply_us[-1] >= lo_ch:
                        for us, reply in zip(thread.reply_us, thread.replies, strict=True):
                            if lo_ch <= us < hi_ch:
                                yield ch.id, reply

    def scenario_of(self, channel_id: str, ts: str) -> str | None:
        """The ground-truth scenario of a message (``None`` for routine chatter or unknown)."""
        ch = self._by_id.get(channel_id)
        us = parse_ts(ts)
        if ch is None or us is None:
            return None
        found = self._find(ch, us)
        return found[0].truth.get(us) if found else None

    # -- methods -------------------------------------------------------------------------------

    def _auth_test(self, params: Mapping[str, Any]) -> dict[str, Any]:
        bot = c.DIGEST_BOT
        return {
            "ok": True,
            "url": f"https://{c.TEAM_DOMAIN}.slack.com/",
            "team": c.COMPANY,
            "user": bot.name,
            "team_id": c.TEAM_ID,
            "user_id": bot.user_id,
            "bot_id": bot.bot_id,
            "is_enterprise_install": False,
        }

    def _team_info(self, params: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "team": {
                "id": c.TEAM_ID,
                "name": c.COMPANY,
                "url": f"https://{c.TEAM_DOMAIN}.slack.com/",
                "domain": c.TEAM_DOMAIN,
                "email_domain": c.EMAIL_DOMAIN,
                "icon": {"image_default": True},
                "is_verified": False,
            },
        }

    def _channel_object(self, ch: Chan) -> dict[str, Any]:
        spec = ch.spec
        created = int(spec.created.timestamp())
        creator = ch.members[0]
        return {
            "id": ch.id,
            "name": spec.name,
            "name_normalized": spec.name,
            "is_channel": True,
            "is_group": False,
            "is_im": False,
            "is_mpim": False,
            "is_private": spec.is_private,
            "is_archived": spec.is_archived,
            "is_general": False,
            "is_shared": False,
            "is_ext_shared": False,
            "is_org_shared": False,
            "is_member": spec.is_member,
            "created": created,
            "updated": created * 1000,
            "creator": creator,
            "context_team_id": c.TEAM_ID,
            "topic": {"value": spec.topic, "creator": creator, "last_set": created + 600},
            "purpose": {"value": spec.purpose, "creator": creator, "last_set": created},
            "previous_names": [],
            "num_members": len(ch.distinct_members) + (1 if spec.is_member else 0),
        }

    def _conversations_list(self, params: Mapping[str, Any]) -> dict[str, Any]:
        # The bot sees every public channel, and the private ones it is in.
        visible = (
            self._channel_object(ch)
            for ch in self._channels
            if ch.spec.is_member or not ch.spec.is_private
        )
        return conversations_page(visible, params)

    def _conversations_info(self, params: Mapping[str, Any]) -> dict[str, Any]:
        ch = self._by_id.get(str(params.get("channel") or ""))
        if ch is None or (ch.spec.is_private and not ch.spec.is_member):
            return error("channel_not_found")
        return {"ok": True, "channel": self._channel_object(ch)}

    def _users_list(self, params: Mapping[str, Any]) -> dict[str, Any]:
        body = list_page(self._user_objects(), params, "members")
        if body["ok"]:
            body["cache_ts"] = self._now_us // US
        return body

    def _user_objects(self) -> list[dict[str, Any]]:
        users: list[dict[str, Any]] = []
        for p in c.PEOPLE:
            offset = self._now.astimezone(ZoneInfo(p.tz)).utcoffset()
            users.append(
                {
                    "id": p.user_id,
                    "team_id": c.TEAM_ID,
                    "name": p.name,
                    "deleted": p.deleted,
                    "real_name": p.real_name,
                    "tz": p.tz,
                    "tz_offset": int(offset.total_seconds()) if offset else 0,
                    "profile": {
                        "title": p.title,
                        "real_name": p.real_name,
                        "real_name_normalized": p.real_name,
                        "display_name": p.display_name,
                        "display_name_normalized": p.display_name,
                        "email": p.email,
                        "team": c.TEAM_ID,
                    },
                    "is_admin": p.name in {"maya.chen", "zoe.martin"},
                    "is_owner": p.name == "david.cohen",
                    "is_bot": False,
                    "is_app_user": False,
                    "is_restricted": p.group != "us",
                    "updated": 1_700_000_000,
                }
            )
        users.extend(
            {
                "id": b.user_id,
                "team_id": c.TEAM_ID,
                "name": b.name,
                "deleted": False,
                "real_name": b.real_name,
                "profile": {
                    "title": "",
                    "real_name": b.real_name,
                    "display_name": "",
                    "bot_id": b.bot_id,
                    "api_app_id": b.app_id,
                    "always_active": True,
                    "team": c.TEAM_ID,
                },
                "is_bot": True,
                "is_app_user": False,
                "updated": 1_700_000_000,
            }
            for b in c.BOTS
        )
        users.append(
            {
                "id": "USLACKBOT",
                "team_id": c.TEAM_ID,
                "name": "slackbot",
                "deleted": False,
                "real_name": "Slackbot",
                "profile": {"real_name": "Slackbot", "display_name": "Slackbot", "title": ""},
                "is_bot": False,
                "is_app_user": False,
                "updated": 0,
            }
        )
        return users

    def _readable(self, params: Mapping[str, Any]) -> Chan | dict[str, Any]:
        ch = self._by_id.get(str(params.get("channel") or ""))
        if ch is None or (ch.spec.is_private and not ch.spec.is_member):
            return error("channel_not_found")
        if not ch.spec.is_member:
            return error("not_in_channel")
        return ch

    def _bounds(self, params: Mapping[str, Any]) -> tuple[int, int] | dict[str, Any]:
        """Inclusive [lo, hi] in microseconds from oldest/latest/inclusive (and the clock)."""
        window = TsWindow.from_params(params)
        if isinstance(window, dict):
            return window
        exclusive = 0 if window.inclusive else 1
        lo, hi = 0, self._now_us
        if window.oldest is not None:
            lo = int(window.oldest * US) + exclusive
        if window.latest is not None:
            hi = min(hi, int(window.latest * US) - exclusive)
        return lo, hi

    def _resume(self, params: Mapping[str, Any]) -> int | dict[str, Any] | None:
        """The ts (µs) a cursor continues from, None without one, or Slack's error body."""
        resume = ts_cursor(params)
        return resume if resume is None or isinstance(resume, dict) else int(resume * US)

    def _history(self, params: Mapping[str, Any]) -> dict[str, Any]:
        ch = self._readable(params)
        if isinstance(ch, dict):
            return ch
        bounds = self._bounds(params)
        if isinstance(bounds, dict):
            return bounds
        lo, hi = bounds
        resume = self._resume(params)
        if isinstance(resume, dict):
            return resume
        if resume is not None:
            hi = min(hi, resume)
        if ch.end_us is not None:
            hi = min(hi, ch.end_us)
        limit = param_limit(params, 100)
        now_us = self._now_us
        found: list[tuple[int, dict[str, Any], Thread | None, bool]] = []
        hour = hi // HOUR_US
        stop = max(lo // HOUR_US, ch.first_hour)
        while hour >= stop and len(found) <= limit and hi >= lo:
            block = self._block(ch, hour)
            i = bisect_right(block.top_us, hi) - 1
            while i >= 0 and len(found) <= limit:
                entry = block.top[i]
                if entry[0] < lo:
                    break
                found.append(entry)
                i -= 1
            hour -= 1
        messages = [self._view(entry, now_us) for entry in found[:limit]]
        has_more = len(found) > limit
        return {
            "ok": True,
            "messages": messages,
            "has_more": has_more,
            "pin_count": 0,
            "response_metadata": {
                "next_cursor": encode_cursor("next_ts", ts_text(found[limit][0]))
                if has_more
                else ""
            },
        }

    def _view(
        self, entry: tuple[int, dict[str, Any], Thread | None, bool], now_us: int
    ) -> dict[str, Any]:
        _, message, thread, is_broadcast = entry
        view = copy_json(message)
        if thread is None:
            return view
        if is_broadcast:
            root = copy_json(thread.parent)
            root.update(thread_fields(thread, now_us) or {})
            view["root"] = root
            return view
        view.update(thread_fields(thread, now_us) or {})
        return view

    def _replies(self, params: Mapping[str, Any]) -> dict[str, Any]:
        ch = self._readable(params)
        if isinstance(ch, dict):
            return ch
        if params.get("ts") in (None, ""):
            return error("invalid_arguments")
        us = parse_ts(params.get("ts"))
        now_us = self._now_us
        found = self._find(ch, us) if us is not None and us <= now_us else None
        if found is None:
            return error("thread_not_found")
        block, thread = found
        if thread is None:  # a message that is not (yet) a thread
            assert us is not None  # found only for a parsed ts
            message, _ = block.by_us[us]
            return {"ok": True, "messages": [copy_json(message)], "has_more": False}
        if thread.parent_us > now_us:
            return error("thread_not_found")
        bounds = self._bounds(params)
        if isinstance(bounds, dict):
            return bounds
        lo, hi = bounds
        if ch.end_us is not None:
            hi = min(hi, ch.end_us)
        limit = param_limit(params, 1000, cap=1000)
        resume = self._resume(params)
        if isinstance(resume, dict):
            return resume
        first_page = resume is None
        if resume is not None:
            lo = max(lo, resume)
        messages: list[dict[str, Any]] = []
        if first_page:
            parent = copy_json(thread.parent)
            parent.update(thread_fields(thread, now_us) or {})
            messages.append(parent)
        i = bisect_right(thread.reply_us, lo - 1)
        next_us: int | None = None
        while i < len(thread.reply_us) and thread.reply_us[i] <= hi:
            if len(messages) >= limit:
                next_us = thread.reply_us[i]
                break
            messages.append(copy_json(thread.replies[i]))
            i += 1
        return {
            "ok": True,
            "messages": messages,
            "has_more": next_us is not None,
            "response_metadata": {
                "next_cursor": encode_cursor("next_ts", ts_text(next_us)) if next_us else ""
            },
        }

    # -- lookup --------------------------------------------------------------------------------

    def _find(self, ch: Chan, us: int) -> tuple[Block, Thread | None] | None:
        """The block that generated message ``us`` and its thread (None: not a thread)."""
        hour = us // HOUR_US
        if hour < ch.first_hour:
            return None
        block = self._block(ch, hour)
        if us in block.by_us:
            return block, block.by_us[us][1]
        for back in range(0, LOOKBACK_HOURS + 1):
            if hour - back < ch.first_hour:
                return None
            block = self._block(ch, hour - back)
            if us in block.replies_by_us:
                return block, block.replies_by_us[us]
        for old in range(hour - LOOKBACK_HOURS - 1, max(hour - LATE_HOURS, ch.first_hour) - 1, -1):
            if us in self._gen.late_schedule(ch, old):
                block = self._block(ch, old)
                thread = block.replies_by_us.get(us)
                return (block, thread) if thread else None
        return None

    def _block(self, ch: Chan, hour: int) -> Block:
        key = (ch.index, hour)
        block = self._cache.get(key)
        if block is not None:
            self._cache.move_to_end(key)
            return block
        block = self._gen.block(ch, hour)
        self._cache[key] = block
        self._cached_messages += block.size + 1
        while self._cached_messages > self._cache_limit and len(self._cache) > 1:
            _, old = self._cache.popitem(last=False)
            self._cached_messages -= old.size + 1
        return block
