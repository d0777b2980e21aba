"""A simulated Slack workspace that answers the Web API like Slack does.

:class:`DemoWorkspace` implements :class:`~digest_pipeline.defs.slack.models.SlackApi`, so the
production extraction code runs unchanged against it. Content is generated on demand and is
deterministic: each (channel, UTC hour) is generated from its own ``random.Random`` seeded with a
stable hash of ``f"{seed}:{channel_id}:{hour}"``, so any window can be asked for in any order and
always looks the same.

How the generator keeps Slack's semantics cheap:

* A channel-hour "block" holds the top-level messages posted in that hour and *all* replies to
  them, including replies posted hours later (at most :data:`MAX_REPLY_LAG_S` after the parent)
  and a rare late follow-up days later (at most :data:`MAX_LATE_S`). Late follow-ups are decided
  by a separate hash of the hour, so finding "replies posted in window W" never has to generate
  ten days of blocks: it only generates the few blocks whose late schedule lands in W.
* Thread broadcasts are only chosen among replies posted in the parent's own hour, so
  ``conversations.history`` for an hour only ever needs that hour's block.
* ``ts`` values are built from integer microseconds. The six decimals mix a per-hour tag into a
  bijection of the microsecond field, which makes them unique per channel by construction.
* The clock (:attr:`DemoWorkspace.now`) hides everything posted later, including replies: a
  parent's ``reply_count``, ``latest_reply`` and ``reply_users`` count only visible replies.

The ground truth (which scenario a message belongs to) never enters a payload; ask
:meth:`DemoWorkspace.scenario_of`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import re
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from random import Random
from typing import Any
from zoneinfo import ZoneInfo

from digest_pipeline.defs.slack.models import ApiStats
from digest_pipeline.demo import content as c

US = 1_000_000
HOUR_US = 3600 * US
MAX_REPLY_LAG_S = 8 * 3600
# Blocks before the window whose ordinary replies can still land in it.
LOOKBACK_HOURS = MAX_REPLY_LAG_S // 3600 + 1
MAX_LATE_S = 10 * 86400 + 3600
LATE_HOURS = MAX_LATE_S // 3600 + 2
LATE_P = 0.09  # chance that a busy channel-hour gets a follow-up days later
_MIX = 7919  # odd and not a multiple of 5: multiplication by it permutes 0..999_999
_TAG_MOD = 1000  # per-hour tag in the microseconds; blocks 1000 h apart never overlap in time
_LATE_R = 990  # micro "r" values reserved for late follow-ups (ordinary messages use 0..899)

_PACIFIC = ZoneInfo("America/Los_Angeles")
_ASIA = ZoneInfo("Asia/Shanghai")
# Relative activity per local hour: office hours busy, lunch dip, evenings and nights light.
_US_HOURS = (
    0.04, 0.03, 0.03, 0.03, 0.04, 0.08, 0.2, 0.5, 0.9, 1.0, 1.0, 0.95,
    0.6, 0.9, 1.0, 1.0, 0.85, 0.55, 0.3, 0.2, 0.18, 0.15, 0.1, 0.06,
)  # fmt: skip
_ASIA_HOURS = (
    0.03, 0.03, 0.03, 0.03, 0.03, 0.05, 0.1, 0.4, 0.9, 1.0, 1.0, 0.8,
    0.4, 0.9, 1.0, 1.0, 0.9, 0.7, 0.5, 0.3, 0.25, 0.2, 0.1, 0.05,
)  # fmt: skip
_US_WEEKDAY = (1.0, 1.0, 1.0, 1.0, 0.85, 0.07, 0.05)
_ASIA_WEEKDAY = (1.0, 1.0, 1.0, 1.0, 1.0, 0.35, 0.06)

_CURSOR_PREFIX = "next_ts:"


def _stable_int(key: str) -> int:
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big")


def _ts(us: int) -> str:
    sec, micro = divmod(us, US)
    return f"{sec}.{micro:06d}"


def _micro(r: int, tag: int) -> int:
    return ((r * _TAG_MOD + tag) * _MIX) % US


def parse_ts(value: Any) -> int | None:
    """Slack timestamp (string or number) to integer microseconds, or None if unreadable."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value * US
    text = repr(value) if isinstance(value, float) else str(value).strip()
    if not text:
        return None
    try:
        number = Decimal(text)
    except InvalidOperation:
        return None
    if not number.is_finite() or number < 0:
        return None
    return int(number * US)


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    return bool(value)


def _limit(value: Any, default: int, cap: int) -> int:
    try:
        n = int(float(value)) if value not in (None, "") else default
    except (TypeError, ValueError):
        n = default
    if n <= 0:
        n = default
    return min(n, cap)


def _encode_cursor(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _decode_cursor(cursor: str, prefix: str) -> str | None:
    try:
        text = base64.b64decode(cursor.encode(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return text[len(prefix) :] if text.startswith(prefix) else None


def _copy(value: Any) -> Any:
    """Deep copy of JSON-like data (faster than copy.deepcopy: no memo, no reduce)."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _poisson(rng: Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam < 30:
        limit, k, p = math.exp(-lam), 0, rng.random()
        while p > limit:
            k += 1
            p *= rng.random()
        return k
    return max(0, round(rng.gauss(lam, math.sqrt(lam))))


_HOUR_WEIGHTS: dict[int, tuple[float, float]] = {}


def _hour_weights(hour: int) -> tuple[float, float]:
    """Activity of a UTC hour for a Pacific office and for the CM's (Asia) working day."""
    found = _HOUR_WEIGHTS.get(hour)
    if found is None:
        moment = datetime.fromtimestamp(hour * 3600, UTC)
        us_local = moment.astimezone(_PACIFIC)
        asia_local = moment.astimezone(_ASIA)
        found = (
            _US_HOURS[us_local.hour] * _US_WEEKDAY[us_local.weekday()],
            _ASIA_HOURS[asia_local.hour] * _ASIA_WEEKDAY[asia_local.weekday()],
        )
        _HOUR_WEIGHTS[hour] = found
    return found


# ---------------------------------------------------------------------------------------------
# Compiled content
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Template:
    text: str
    group: str | None  # who must write it (cm/de/es), or anyone in the channel
    plain: bool  # no {slots}


def _compile(text: str) -> _Template:
    group = None
    if len(text) > 3 and text[2] == "|" and text[:2] in {"cm", "de", "es"}:
        group, text = text[:2], text[3:]
    return _Template(text, group, "{" not in text)


def _compile_all(texts: tuple[str, ...]) -> tuple[_Template, ...]:
    return tuple(_compile(t) for t in texts)


@dataclass(frozen=True)
class _Kind:
    name: str  # "routine" | "system" | "bot" | scenario name
    scenario: c.Scenario | None
    parents: tuple[_Template, ...]
    replies: tuple[_Template, ...]
    closers: tuple[_Template, ...]


class _Chan:
    """A channel with everything the generator needs precomputed."""

    def __init__(self, index: int, spec: c.Channel, people: Mapping[str, c.Person]) -> None:
        self.index = index
        self.spec = spec
        self.id = spec.channel_id
        self.first_hour = int(spec.created.timestamp()) // 3600
        self.end_us = int(spec.archived_at.timestamp()) * US if spec.archived_at else None
        self.members = tuple(people[name].user_id for name in spec.members)
        self.distinct_members = tuple(dict.fromkeys(self.members))
        by_group: dict[str, list[str]] = {}
        for name in spec.members:
            person = people[name]
            by_group.setdefault(person.group, []).append(person.user_id)
        for person in people.values():
            # Groups with nobody in the channel borrow a guest (a CM engineer pulled in).
            if not person.deleted and person.group not in by_group:
                by_group[person.group] = []
            if not person.deleted and not any(
                people[n].group == person.group for n in spec.members
            ):
                by_group[person.group].append(person.user_id)
        self.group_members = {g: tuple(dict.fromkeys(ids)) for g, ids in by_group.items()}
        self.routine = _compile_all(c.ROUTINE.get(spec.name, ())) or _compile_all(c.GENERIC_ROUTINE)
        kinds: list[_Kind] = []
        cum: list[float] = []
        total = 0.0
        for name, weight in spec.mix.items():
            if name == "bot" and not spec.bots:
                continue
            scenario = c.SCENARIOS.get(name)
            kinds.append(
                _Kind(
                    name,
                    scenario,
                    _compile_all(scenario.parents) if scenario else (),
                    _compile_all(scenario.replies) if scenario else (),
                    _compile_all(scenario.closers) if scenario else (),
                )
            )
            total += weight
            cum.append(total)
        self.kinds = tuple(kinds)
        self.cum = tuple(x / total for x in cum)


_GENERIC = _compile_all(c.GENERIC_ROUTINE)
_ROUTINE_REPLIES = _compile_all(c.ROUTINE_REPLIES)
_FILLERS = _compile_all(c.FILLER_REPLIES)
_LATE = _compile_all(c.LATE_REPLIES)
_BOT_POSTS = {
    key: tuple((_compile(t), _compile(x), color, sc) for t, x, color, sc in posts)
    for key, posts in c.BOT_POSTS.items()
}
_BOTS = {b.key: b for b in c.BOTS}
_CHANNEL_REFS = tuple(f"<#{ch.channel_id}|{ch.name}>" for ch in c.CHANNELS if not ch.is_private)


# ---------------------------------------------------------------------------------------------
# Slots: filled lazily, once per thread, so a thread keeps talking about the same part/lot/...
# ---------------------------------------------------------------------------------------------


def _pick(rng: Random, seq: tuple[Any, ...] | list[Any]) -> Any:
    return seq[int(rng.random() * len(seq))]


def _ww(rng: Random) -> int:
    return 1 + int(rng.random() * 52)


def _fill_part(s: _Slots, rng: Random) -> None:
    part, kind, vendor = _pick(rng, c.PARTS)
    s["part"], s["part_kind"], s["vendor"] = part, kind, vendor


def _fill_ww(s: _Slots, rng: Random) -> None:
    week = _ww(rng)
    slip = 2 + int(rng.random() * 7)
    s["ww"], s["ww_new"], s["slip"] = f"WW{week}", f"WW{(week + slip - 1) % 52 + 1}", str(slip)


def _fill_yield(s: _Slots, rng: Random) -> None:
    target = _pick(rng, (97.5, 98.0, 98.5, 99.0))
    fpy = round(60 + rng.random() * (target - 68), 1)
    s["target"], s["fpy"] = f"{target}%", f"{fpy}%"
    s["fallout"] = f"{round(100 - fpy, 1)}%"


def _fill_product(s: _Slots, rng: Random) -> None:
    s["product"], s["codename"] = _pick(rng, c.PRODUCTS)


def _fill_cm(s: _Slots, rng: Random) -> None:
    s["cm"], s["cm_site"] = _pick(rng, c.CMS)


def _fill_customer(s: _Slots, rng: Random) -> None:
    s["customer"], s["customer_short"] = _pick(rng, c.CUSTOMERS)


def _fill_cert(s: _Slots, rng: Random) -> None:
    s["standard"] = _pick(rng, c.STANDARDS)
    s["lab"] = _pick(rng, c.LABS)
    s["freq"] = _pick(rng, c.FREQS)
    s["margin"] = f"{1 + rng.random() * 7:.1f}"


def _fill_lead(s: _Slots, rng: Random) -> None:
    old = 8 + int(rng.random() * 12)
    s["weeks_old"], s["weeks_new"] = str(old), str(old + 14 + int(rng.random() * 38))


def _fill_sheet(s: _Slots, rng: Random) -> None:
    doc = f"{rng.getrandbits(64):016x}"
    s["sheet"] = f"https://docs.google.com/spreadsheets/d/1{doc}/edit|{_pick(rng, c.SHEETS)}"


def _fill_meet(s: _Slots, rng: Random) -> None:
    a = "".join(_pick(rng, "abcdefghijkmnpqrstuvwxyz") for _ in range(10))
    code = f"{a[:3]}-{a[3:7]}-{a[7:]}"
    s["meet"] = f"<https://meet.google.com/{code}|meet.google.com/{code}>"


def _fill_jira(s: _Slots, rng: Random) -> None:
    key = f"NPI-{1000 + int(rng.random() * 3000)}"
    s["jira"] = f"<https://{c.TEAM_DOMAIN}.atlassian.net/browse/{key}|{key}>"


def _fill_who(s: _Slots, rng: Random) -> None:
    s["who"] = f"<@{_pick(rng, s.members)}>"


def _fill_op(s: _Slots, rng: Random) -> None:
    # Threads preset "op" to the parent's author; this only serves a template used elsewhere.
    s["op"] = f"<@{_pick(rng, s.members)}>"


def _fill_lot(s: _Slots, rng: Random) -> None:
    s["lot"] = f"L{24 + int(rng.random() * 3)}{_ww(rng):02d}-{int(rng.random() * 9000) + 1000}"


def _fill_container(s: _Slots, rng: Random) -> None:
    prefix = _pick(rng, ("MSKU", "EGHU", "TGHU", "OOLU"))
    s["container"] = f"{prefix} {int(rng.random() * 900000) + 100000}-{int(rng.random() * 10)}"


def _fill_awb(s: _Slots, rng: Random) -> None:
    s["awb"] = f"AWB 160-{int(rng.random() * 9000) + 1000} {int(rng.random() * 9000) + 1000}"


def _setter(key: str, make: Callable[[Random], str]) -> Callable[[_Slots, Random], None]:
    def fill(s: _Slots, rng: Random) -> None:
        s[key] = make(rng)

    return fill


_SLOT_FILLERS: dict[str, Callable[[_Slots, Random], None]] = {
    **dict.fromkeys(("part", "part_kind", "vendor"), _fill_part),
    **dict.fromkeys(("ww", "ww_new", "slip"), _fill_ww),
    **dict.fromkeys(("target", "fpy", "fallout"), _fill_yield),
    **dict.fromkeys(("product", "codename"), _fill_product),
    **dict.fromkeys(("cm", "cm_site"), _fill_cm),
    **dict.fromkeys(("customer", "customer_short"), _fill_customer),
    **dict.fromkeys(("standard", "lab", "freq", "margin"), _fill_cert),
    **dict.fromkeys(("weeks_old", "weeks_new"), _fill_lead),
    "sheet": _fill_sheet,
    "meet": _fill_meet,
    "jira": _fill_jira,
    "who": _fill_who,
    "op": _fill_op,
    "lot": _fill_lot,
    "container": _fill_container,
    "awb": _fill_awb,
    "alt_part": _setter("alt_part", lambda r: _pick(r, c.PARTS)[0]),
    "distributor": _setter("distributor", lambda r: _pick(r, c.DISTRIBUTORS)),
    "pct_alloc": _setter("pct_alloc", lambda r: f"{30 + int(r.random() * 40)}%"),
    "pct_increase": _setter("pct_increase", lambda r: f"{6 + int(r.random() * 20)}%"),
    "qty": _setter("qty", lambda r: _pick(r, c.QTYS)),
    "qty_small": _setter("qty_small", lambda r: f"{int(r.random() * 2400) + 120:,}"),
    "build": _setter("build", lambda r: _pick(r, c.BUILDS)),
    "stage": _setter("stage", lambda r: _pick(r, c.STAGES)),
    "competitor": _setter("competitor", lambda r: _pick(r, c.COMPETITORS)),
    "deal": _setter("deal", lambda r: _pick(r, c.DEALS)),
    "station": _setter("station", lambda r: _pick(r, c.STATIONS)),
    "defect": _setter("defect", lambda r: _pick(r, c.DEFECTS)),
    "defect_cn": _setter("defect_cn", lambda r: _pick(r, c.DEFECTS_CN)),
    "hts": _setter("hts", lambda r: _pick(r, c.HTS_CODES)),
    "broker": _setter("broker", lambda r: _pick(r, c.BROKERS)),
    "port": _setter("port", lambda r: _pick(r, c.PORTS)),
    "carrier": _setter("carrier", lambda r: _pick(r, c.CARRIERS)),
    "day": _setter("day", lambda r: _pick(r, c.DAYS)),
    "day2": _setter("day2", lambda r: _pick(r, c.DAYS)),
    "time": _setter("time", lambda r: _pick(r, c.TIMES)),
    "lunch": _setter("lunch", lambda r: _pick(r, c.LUNCH)),
    "temp": _setter("temp", lambda r: f"{48 + int(r.random() * 30)}°C"),
    "po": _setter("po", lambda r: f"4500{int(r.random() * 900000) + 100000}"),
    "fw": _setter("fw", lambda r: f"v{1 + r.randrange(3)}.{r.randrange(12)}.{r.randrange(30)}"),
    "chan": _setter("chan", lambda r: _pick(r, _CHANNEL_REFS)),
    "quote": _setter("quote", lambda r: _pick(r, c.QUOTES)),
}  # fmt: skip


class _Slots(dict[str, str]):
    """Template values for one thread; missing ones are drawn on first use."""

    def __init__(self, rng: Random, members: tuple[str, ...]) -> None:
        super().__init__()
        self.rng = rng
        self.members = members

    def __missing__(self, key: str) -> str:
        _SLOT_FILLERS[key](self, self.rng)
        return dict.__getitem__(self, key)


# ---------------------------------------------------------------------------------------------
# Generated data
# ---------------------------------------------------------------------------------------------


class _Thread:
    __slots__ = ("parent", "parent_us", "replies", "reply_us")

    def __init__(self, parent: dict[str, Any], parent_us: int) -> None:
        self.parent = parent
        self.parent_us = parent_us
        self.replies: list[dict[str, Any]] = []
        self.reply_us: list[int] = []


class _Block:
    """One channel-hour: its top-level messages and every reply to them."""

    __slots__ = ("by_us", "late", "replies_by_us", "size", "threads", "top", "top_us", "truth")

    def __init__(self) -> None:
        # (us, message, thread or None, is_broadcast), sorted by us once complete
        self.top: list[tuple[int, dict[str, Any], _Thread | None, bool]] = []
        self.top_us: list[int] = []
        self.by_us: dict[int, tuple[dict[str, Any], _Thread | None]] = {}
        self.threads: list[_Thread] = []
        self.replies_by_us: dict[int, _Thread] = {}
        self.truth: dict[int, str | None] = {}
        self.late: tuple[int, ...] = ()
        self.size = 0


def _thread_fields(thread: _Thread, now_us: int) -> dict[str, Any] | None:
    visible = bisect_right(thread.reply_us, now_us)
    if visible == 0:
        return None
    users = list(dict.fromkeys(r.get("user") or r.get("bot_id") for r in thread.replies[:visible]))
    return {
        "thread_ts": thread.parent["ts"],
        "reply_count": visible,
        "reply_users_count": len(users),
        "latest_reply": thread.replies[visible - 1]["ts"],
        "reply_users": users,
        "is_locked": False,
        "subscribed": False,
    }


def _rich_text(text: str, rng: Random) -> list[dict[str, Any]]:
    """A rich_text block carrying ``text`` the way Slack's composer does."""
    elements: list[dict[str, Any]] = []
    pos = 0
    for m in _TOKEN.finditer(text):
        if m.start() > pos:
            elements.append({"type": "text", "text": _unescape(text[pos : m.start()])})
        token = m.group(1)
        if token.startswith("@"):
            elements.append({"type": "user", "user_id": token[1:]})
        elif token.startswith("#"):
            elements.append({"type": "channel", "channel_id": token[1:].split("|")[0]})
        elif token.startswith("!"):
            elements.append({"type": "broadcast", "range": token[1:]})
        else:
            url, _, label = token.partition("|")
            link: dict[str, Any] = {"type": "link", "url": url}
            if label:
                link["text"] = label
            elements.append(link)
        pos = m.end()
    if pos < len(text):
        elements.append({"type": "text", "text": _unescape(text[pos:])})
    block_id = "".join(
        _pick(rng, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") for _ in range(5)
    )
    return [
        {
            "type": "rich_text",
            "block_id": block_id,
            "elements": [{"type": "rich_text_section", "elements": elements}],
        }
    ]


_TOKEN = re.compile(r"<([^<>]+)>")


def _unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


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
        self._channels = tuple(_Chan(i, spec, people) for i, spec in enumerate(c.CHANNELS))
        self._by_id = {ch.id: ch for ch in self._channels}
        self._cache: OrderedDict[tuple[int, int], _Block] = OrderedDict()
        self._cached_messages = 0
        self._cache_limit = 600_000
        self._long_p = min(0.2, 0.0015 * scale)
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
            return {"ok": False, "error": "unknown_method"}
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
                late = self._late_schedule(ch, hour)
                if any(lo_ch <= us < hi_ch for us in late):
                    block = self._generate(ch, hour)
                    for thread in block.threads:
                        for us, reply in zip(thread.reply_us, thread.replies, strict=True):
                            if lo_ch <= us < hi_ch:
                                yield ch.id, reply
            for hour in range(max(first - LOOKBACK_HOURS, ch.first_hour), last + 1):
                block = self._generate(ch, hour)
                for us, message, thread, is_broadcast in block.top:
                    if is_broadcast:
                        continue  # yielded as a reply
                    if lo_ch <= us < hi_ch:
                        if thread is not None:
                            fields = _thread_fields(thread, now_us)
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

    def _channel_object(self, ch: _Chan) -> dict[str, Any]:
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
        types = {t.strip() for t in str(params.get("types") or "public_channel").split(",")}
        exclude_archived = _truthy(params.get("exclude_archived"))
        visible = [
            ch
            for ch in self._channels
            if (("private_channel" in types) if ch.spec.is_private else ("public_channel" in types))
            and not (ch.spec.is_private and not ch.spec.is_member)
            and not (exclude_archived and ch.spec.is_archived)
        ]
        page, next_cursor = self._page_list(params, visible, "channel:", default=100)
        if page is None:
            return {"ok": False, "error": "invalid_cursor"}
        return {
            "ok": True,
            "channels": [self._channel_object(ch) for ch in page],
            "response_metadata": {"next_cursor": next_cursor},
        }

    def _conversations_info(self, params: Mapping[str, Any]) -> dict[str, Any]:
        ch = self._by_id.get(str(params.get("channel") or ""))
        if ch is None or (ch.spec.is_private and not ch.spec.is_member):
            return {"ok": False, "error": "channel_not_found"}
        return {"ok": True, "channel": self._channel_object(ch)}

    def _page_list(
        self, params: Mapping[str, Any], items: list[Any], prefix: str, default: int
    ) -> tuple[list[Any] | None, str]:
        limit = _limit(params.get("limit"), default, 1000)
        start = 0
        cursor = params.get("cursor")
        if cursor:
            decoded = _decode_cursor(str(cursor), prefix)
            if decoded is None or not decoded.isdigit():
                return None, ""
            start = int(decoded)
        end = start + limit
        next_cursor = _encode_cursor(f"{prefix}{end}") if end < len(items) else ""
        return items[start:end], next_cursor

    def _users_list(self, params: Mapping[str, Any]) -> dict[str, Any]:
        members = self._user_objects()
        page, next_cursor = self._page_list(params, members, "user:", default=len(members))
        if page is None:
            return {"ok": False, "error": "invalid_cursor"}
        return {
            "ok": True,
            "members": _copy(page),
            "cache_ts": self._now_us // US,
            "response_metadata": {"next_cursor": next_cursor},
        }

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

    def _readable(self, params: Mapping[str, Any]) -> _Chan | dict[str, Any]:
        ch = self._by_id.get(str(params.get("channel") or ""))
        if ch is None or (ch.spec.is_private and not ch.spec.is_member):
            return {"ok": False, "error": "channel_not_found"}
        if not ch.spec.is_member:
            return {"ok": False, "error": "not_in_channel"}
        return ch

    def _bounds(self, params: Mapping[str, Any]) -> tuple[int, int] | dict[str, Any]:
        """Inclusive [lo, hi] in microseconds from oldest/latest/inclusive (and the clock)."""
        inclusive = _truthy(params.get("inclusive"))
        lo, hi = 0, self._now_us
        if params.get("oldest") not in (None, ""):
            oldest = parse_ts(params.get("oldest"))
            if oldest is None:
                return {"ok": False, "error": "invalid_ts_oldest"}
            lo = oldest if inclusive else oldest + 1
        if params.get("latest") not in (None, ""):
            latest = parse_ts(params.get("latest"))
            if latest is None:
                return {"ok": False, "error": "invalid_ts_latest"}
            hi = min(hi, latest if inclusive else latest - 1)
        return lo, hi

    def _history(self, params: Mapping[str, Any]) -> dict[str, Any]:
        ch = self._readable(params)
        if isinstance(ch, dict):
            return ch
        bounds = self._bounds(params)
        if isinstance(bounds, dict):
            return bounds
        lo, hi = bounds
        if params.get("cursor"):
            decoded = _decode_cursor(str(params["cursor"]), _CURSOR_PREFIX)
            resume = parse_ts(decoded) if decoded else None
            if resume is None:
                return {"ok": False, "error": "invalid_cursor"}
            hi = min(hi, resume)
        if ch.end_us is not None:
            hi = min(hi, ch.end_us)
        limit = _limit(params.get("limit"), 100, 999)
        now_us = self._now_us
        found: list[tuple[int, dict[str, Any], _Thread | None, bool]] = []
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
                "next_cursor": _encode_cursor(_CURSOR_PREFIX + _ts(found[limit][0]))
                if has_more
                else ""
            },
        }

    def _view(
        self, entry: tuple[int, dict[str, Any], _Thread | None, bool], now_us: int
    ) -> dict[str, Any]:
        _, message, thread, is_broadcast = entry
        view = _copy(message)
        if thread is None:
            return view
        if is_broadcast:
            root = _copy(thread.parent)
            root.update(_thread_fields(thread, now_us) or {})
            view["root"] = root
            return view
        view.update(_thread_fields(thread, now_us) or {})
        return view

    def _replies(self, params: Mapping[str, Any]) -> dict[str, Any]:
        ch = self._readable(params)
        if isinstance(ch, dict):
            return ch
        if params.get("ts") in (None, ""):
            return {"ok": False, "error": "invalid_arguments"}
        us = parse_ts(params.get("ts"))
        now_us = self._now_us
        found = self._find(ch, us) if us is not None and us <= now_us else None
        if found is None:
            return {"ok": False, "error": "thread_not_found"}
        block, thread = found
        if thread is None:  # a message that is not (yet) a thread
            message, _ = block.by_us[us]
            return {"ok": True, "messages": [_copy(message)], "has_more": False}
        if thread.parent_us > now_us:
            return {"ok": False, "error": "thread_not_found"}
        bounds = self._bounds(params)
        if isinstance(bounds, dict):
            return bounds
        lo, hi = bounds
        if ch.end_us is not None:
            hi = min(hi, ch.end_us)
        limit = _limit(params.get("limit"), 1000, 1000)
        first_page = True
        if params.get("cursor"):
            decoded = _decode_cursor(str(params["cursor"]), _CURSOR_PREFIX)
            resume = parse_ts(decoded) if decoded else None
            if resume is None:
                return {"ok": False, "error": "invalid_cursor"}
            lo, first_page = max(lo, resume), False
        messages: list[dict[str, Any]] = []
        if first_page:
            parent = _copy(thread.parent)
            parent.update(_thread_fields(thread, now_us) or {})
            messages.append(parent)
        i = bisect_right(thread.reply_us, lo - 1)
        next_us: int | None = None
        while i < len(thread.reply_us) and thread.reply_us[i] <= hi:
            if len(messages) >= limit:
                next_us = thread.reply_us[i]
                break
            messages.append(_copy(thread.replies[i]))
            i += 1
        return {
            "ok": True,
            "messages": messages,
            "has_more": next_us is not None,
            "response_metadata": {
                "next_cursor": _encode_cursor(_CURSOR_PREFIX + _ts(next_us)) if next_us else ""
            },
        }

    # -- lookup --------------------------------------------------------------------------------

    def _find(self, ch: _Chan, us: int) -> tuple[_Block, _Thread | None] | None:
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
            if us in self._late_schedule(ch, old):
                block = self._block(ch, old)
                thread = block.replies_by_us.get(us)
                return (block, thread) if thread else None
        return None

    def _block(self, ch: _Chan, hour: int) -> _Block:
        key = (ch.index, hour)
        block = self._cache.get(key)
        if block is not None:
            self._cache.move_to_end(key)
            return block
        block = self._generate(ch, hour)
        self._cache[key] = block
        self._cached_messages += block.size + 1
        while self._cached_messages > self._cache_limit and len(self._cache) > 1:
            _, old = self._cache.popitem(last=False)
            self._cached_messages -= old.size + 1
        return block

    def _late_schedule(self, ch: _Chan, hour: int) -> tuple[int, ...]:
        """The ts (µs) of follow-up replies posted days after a parent of this hour, if any."""
        digest = hashlib.blake2b(
            f"{self.seed}:{ch.id}:{hour}:late".encode(), digest_size=16
        ).digest()
        w_us, w_asia = _hour_weights(hour)
        weight = (1 - ch.spec.asia_share) * w_us + ch.spec.asia_share * w_asia
        if int.from_bytes(digest[0:4], "big") / 2**32 >= LATE_P * weight:
            return ()
        lag = 86400 + int.from_bytes(digest[4:8], "big") % (9 * 86400)
        count = 1 + digest[8] % 3
        tag = hour % _TAG_MOD
        base = hour * 3600 + lag
        out: list[int] = []
        for k in range(count):
            base += 60 + digest[9 + k] * 13
            out.append(base * US + _micro(_LATE_R + k, tag))
        return tuple(out)

    # -- generation ----------------------------------------------------------------------------

    def _generate(self, ch: _Chan, hour: int) -> _Block:
        block = _Block()
        if hour < ch.first_hour or (ch.end_us is not None and hour * HOUR_US > ch.end_us):
            return block
        hour_key = datetime.fromtimestamp(hour * 3600, UTC).strftime("%Y-%m-%dT%H")
        rng = Random(_stable_int(f"{self.seed}:{ch.id}:{hour_key}"))
        w_us, w_asia = _hour_weights(hour)
        share = ch.spec.asia_share
        lam = ch.spec.rate * ((1 - share) * w_us + share * w_asia) * self.scale
        n = _poisson(rng, lam)
        gen = _Gen(self, ch, hour, rng, block)
        for _ in range(n):
            gen.top_level()
        late = self._late_schedule(ch, hour)
        if late and gen.threadable:
            gen.late_replies(late)
        block.top.sort(key=lambda e: e[0])
        block.top_us = [e[0] for e in block.top]
        return block


class _Gen:
    """Generates one block; holds the per-block state so helpers stay small."""

    __slots__ = (
        "block",
        "ch",
        "end_us",
        "hour",
        "random",
        "rng",
        "start_s",
        "tag",
        "threadable",
        "used",
        "ws",
    )

    def __init__(self, ws: DemoWorkspace, ch: _Chan, hour: int, rng: Random, block: _Block) -> None:
        self.ws = ws
        self.ch = ch
        self.hour = hour
        self.rng = rng
        self.random = rng.random
        self.block = block
        self.start_s = hour * 3600
        self.end_us = (hour + 1) * HOUR_US
        self.tag = hour % _TAG_MOD
        self.used: set[int] = set()
        self.threadable: list[tuple[int, dict[str, Any], str | None]] = []

    def alloc(self, sec: int) -> int:
        r = int(self.random() * 900)
        base = sec * US
        while True:
            us = base + _micro(r, self.tag)
            if us not in self.used:
                self.used.add(us)
                return us
            r = (r + 1) % 900

    def author(self, group: str | None) -> str:
        if group is None:
            return _pick(self.rng, self.ch.members)
        return _pick(self.rng, self.ch.group_members[group])

    def text(self, template: _Template, slots: _Slots | None) -> tuple[str, _Slots | None]:
        if template.plain:
            return template.text, slots
        if slots is None:
            slots = _Slots(self.rng, self.ch.distinct_members)
        return template.text.format_map(slots), slots

    def human(self, us: int, user: str, text: str, risky: bool) -> dict[str, Any]:
        rnd = self.random
        h = f"{self.rng.getrandbits(128):032x}"
        msg: dict[str, Any] = {
            "type": "message",
            "user": user,
            "text": text,
            "ts": _ts(us),
            "team": c.TEAM_ID,
            "client_msg_id": f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}",
        }
        if rnd() < (0.3 if risky else 0.1):
            self.react(msg, risky)
        x = rnd()
        if x < 0.04:
            msg["edited"] = {"user": user, "ts": _ts(us + int(20 + rnd() * 900) * US + 1)}
        elif x < 0.045:
            msg["blocks"] = _rich_text(text, self.rng)
            msg["text"] = ""
        elif x < 0.05:
            self.attach_file(msg, user, us)
        return msg

    def react(self, msg: dict[str, Any], risky: bool) -> None:
        names = c.REACTIONS_RISK if risky else c.REACTIONS_ROUTINE
        reactions = []
        for name in dict.fromkeys(
            _pick(self.rng, names) for _ in range(1 + int(self.random() * 2))
        ):
            count = 1 + int(self.random() * 4)
            users = list(dict.fromkeys(_pick(self.rng, self.ch.members) for _ in range(count)))
            reactions.append({"name": name, "users": users, "count": len(users)})
        msg["reactions"] = reactions

    def attach_file(self, msg: dict[str, Any], user: str, us: int) -> None:
        name, filetype, pretty, mimetype = _pick(self.rng, c.FILE_KINDS)
        name = name.format(ww=f"ww{int(self.random() * 52) + 1}", lab="lab")
        file_id = f"F0{self.rng.getrandbits(40):010X}"
        sec = us // US
        msg["files"] = [
            {
                "id": file_id,
                "created": sec,
                "timestamp": sec,
                "name": name,
                "title": name,
                "mimetype": mimetype,
                "filetype": filetype,
                "pretty_type": pretty,
                "user": user,
                "size": 20_000 + int(self.random() * 2_000_000),
                "mode": "hosted",
                "is_external": False,
                "url_private": f"https://files.slack.com/files-pri/{c.TEAM_ID}-{file_id}/{name}",
                "permalink": f"https://{c.TEAM_DOMAIN}.slack.com/files/{user}/{file_id}/{name}",
            }
        ]
        msg["upload"] = True
        msg["display_as_bot"] = False

    def add_top(self, us: int, msg: dict[str, Any], label: str | None) -> None:
        self.block.top.append((us, msg, None, False))
        self.block.by_us[us] = (msg, None)
        self.block.truth[us] = label
        self.block.size += 1

    def top_level(self) -> None:
        ch, rnd = self.ch, self.random
        us = self.alloc(self.start_s + int(rnd() * 3600))
        x = rnd()
        i = 0
        cum = ch.cum
        while cum[i] < x:
            i += 1
        kind = ch.kinds[i]
        if kind.name == "system":
            self.add_top(us, self.system(us), None)
            return
        if kind.name == "bot":
            msg, label = self.bot_post(us)
            self.add_top(us, msg, label)
            return
        scenario = kind.scenario
        if scenario is None:  # routine chatter
            pool = _GENERIC if rnd() < 0.3 else ch.routine
            template = _pick(self.rng, pool)
            label, thread_p, mean = None, 0.15, 2.5
        else:
            template = _pick(self.rng, kind.parents)
            label, thread_p, mean = scenario.name, scenario.thread_p, scenario.mean_replies
        user = self.author(template.group)
        text, slots = self.text(template, None)
        risky = scenario is not None and scenario.level in ("medium", "high", "critical")
        msg = self.human(us, user, text, risky)
        self.add_top(us, msg, label)
        self.threadable.append((us, msg, label))
        if rnd() < thread_p:
            self.thread(us, msg, kind, slots, mean)

    def _thread_of(self, us: int, msg: dict[str, Any]) -> _Thread:
        entry = self.block.by_us[us]
        if entry[1] is not None:
            return entry[1]
        thread = _Thread(msg, us)
        self.block.by_us[us] = (msg, thread)
        for i in range(len(self.block.top) - 1, -1, -1):
            if self.block.top[i][0] == us:
                self.block.top[i] = (us, msg, thread, False)
                break
        self.block.threads.append(thread)
        return thread

    def thread(
        self, us: int, msg: dict[str, Any], kind: _Kind, slots: _Slots | None, mean: float
    ) -> None:
        rnd, rng = self.random, self.rng
        scenario = kind.scenario
        long = scenario is not None and scenario.level != "low" and rnd() < self.ws._long_p
        if long:
            n = 200 + int(rnd() * 250)
        else:
            n = min(30, 1 + int(rng.expovariate(1 / max(mean - 1, 0.5))))
        if slots is None:
            slots = _Slots(rng, self.ch.distinct_members)
        if "op" not in slots:
            slots["op"] = f"<@{msg['user']}>"
        thread = self._thread_of(us, msg)
        parent_user = msg["user"]
        t = us // US + 20 + int(rng.expovariate(1 / 600))
        limit = us // US + MAX_REPLY_LAG_S
        gap = 60 if long else 420
        for k in range(n):
            if t > limit:
                break
            y = rnd()
            if scenario is None:
                template, label = _pick(rng, _ROUTINE_REPLIES), None
            elif k == n - 1 and n >= 3 and kind.closers and y < 0.45:
                template = _pick(rng, kind.closers)
                label = scenario.closer_scenario or scenario.name
            elif y < 0.3 or not kind.replies:
                template, label = _pick(rng, _FILLERS), None
            else:
                template, label = _pick(rng, kind.replies), scenario.name
            if template.group is None and rnd() < 0.3:
                user = parent_user
            else:
                user = self.author(template.group)
            text, slots = self.text(template, slots)
            risky = label is not None and label != "resolution" and scenario is not None
            self.reply(thread, self.alloc(t), user, text, label, risky and scenario.level != "low")
            t += 10 + int(rng.expovariate(1 / gap))
        if thread.replies and rnd() < 0.04:
            self.broadcast(thread)

    def reply(
        self, thread: _Thread, us: int, user: str, text: str, label: str | None, risky: bool
    ) -> None:
        msg = self.human(us, user, text, risky)
        msg["thread_ts"] = thread.parent["ts"]
        msg["parent_user_id"] = thread.parent.get("user")
        thread.replies.append(msg)
        thread.reply_us.append(us)
        self.block.replies_by_us[us] = thread
        self.block.truth[us] = label
        self.block.size += 1

    def broadcast(self, thread: _Thread) -> None:
        candidates = [i for i, us in enumerate(thread.reply_us) if us < self.end_us]
        if not candidates:
            return
        i = _pick(self.rng, candidates)
        reply = thread.replies[i]
        reply["subtype"] = "thread_broadcast"
        self.block.top.append((thread.reply_us[i], reply, thread, True))

    def late_replies(self, late: tuple[int, ...]) -> None:
        us, msg, _ = self.threadable[int(self.random() * len(self.threadable))]
        thread = self._thread_of(us, msg)
        slots = _Slots(self.rng, self.ch.distinct_members)
        slots["op"] = f"<@{msg['user']}>"
        for reply_us in late:
            text, slots = self.text(_pick(self.rng, _LATE), slots)
            user = _pick(self.rng, self.ch.members)
            self.reply(thread, reply_us, user, text, None, False)
            self.used.add(reply_us)

    def system(self, us: int) -> dict[str, Any]:
        user = _pick(self.rng, self.ch.members)
        x = self.random()
        ts = _ts(us)
        if x < 0.6:
            return {
                "type": "message",
                "subtype": "channel_join",
                "user": user,
                "text": f"<@{user}> has joined the channel",
                "ts": ts,
            }
        if x < 0.85:
            return {
                "type": "message",
                "subtype": "channel_leave",
                "user": user,
                "text": f"<@{user}> has left the channel",
                "ts": ts,
            }
        topic = self.ch.spec.topic if self.random() < 0.5 else _pick(self.rng, c.SYSTEM_TOPICS)
        return {
            "type": "message",
            "subtype": "channel_topic",
            "user": user,
            "text": f"<@{user}> set the channel topic: {topic}",
            "topic": topic,
            "ts": ts,
        }

    def bot_post(self, us: int) -> tuple[dict[str, Any], str | None]:
        bot = _BOTS[_pick(self.rng, self.ch.spec.bots)]
        title_t, text_t, color, label = _pick(self.rng, _BOT_POSTS[bot.key])
        title, slots = self.text(title_t, None)
        body, slots = self.text(text_t, slots)
        attachment = {
            "id": 1,
            "color": color.lstrip("#"),
            "fallback": f"{title}: {body}",
            "title": title,
            "text": body,
        }
        # Jira and ERP posts often carry everything in the attachment; MES alerts keep a text line.
        text = "" if bot.key != "mes" and self.random() < 0.3 else f"{title}: {body}"
        msg = {
            "type": "message",
            "subtype": "bot_message",
            "text": text,
            "ts": _ts(us),
            "bot_id": bot.bot_id,
            "username": bot.username,
            "app_id": bot.app_id,
            "attachments": [attachment],
        }
        return msg, label
