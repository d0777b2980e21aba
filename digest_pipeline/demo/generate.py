"""How a channel-hour of the demo workspace is generated.

Each (channel, UTC hour) is generated from its own ``random.Random`` seeded with a stable hash of
``f"{seed}:{channel_id}:{hour}"``, so any window can be asked for in any order and always looks
the same. A block holds the top-level messages posted in that hour and *all* replies to them,
including replies posted hours later (at most :data:`~digest_pipeline.demo.blocks.MAX_REPLY_LAG_S`
after the parent) and a rare late follow-up days later (at most
:data:`~digest_pipeline.demo.blocks.MAX_LATE_S`). Late follow-ups are decided by a separate hash
of the hour (:meth:`Generator.late_schedule`), so finding "replies posted in window W" never has
to generate ten days of blocks. Thread broadcasts are only chosen among replies posted in the
parent's own hour, so ``conversations.history`` for an hour only ever needs that hour's block.
``ts`` values are built from integer microseconds: the six decimals mix a per-hour tag into a
bijection of the microsecond field, which makes them unique per channel by construction.
"""

from __future__ import annotations

import hashlib
import math
import re
from datetime import UTC, datetime
from random import Random
from typing import Any
from zoneinfo import ZoneInfo

from digest_pipeline.demo import content as c
from digest_pipeline.demo.blocks import (
    BOT_POSTS,
    BOTS,
    FILLERS,
    GENERIC,
    HOUR_US,
    LATE,
    LATE_P,
    LATE_R,
    MAX_REPLY_LAG_S,
    ROUTINE_REPLIES,
    TAG_MOD,
    US,
    Block,
    Chan,
    Kind,
    Template,
    Thread,
    micro,
    stable_int,
    ts_text,
)
from digest_pipeline.demo.slots import Slots, pick

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
        pick(rng, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") for _ in range(5)
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


class Generator:
    """The blocks of one workspace (``seed`` picks the content, ``scale`` the volume)."""

    def __init__(self, seed: int, scale: float) -> None:
        self.seed = seed
        self.scale = scale
        self.long_p = min(0.2, 0.0015 * scale)  # a risky thread runs to hundreds of replies

    def late_schedule(self, ch: Chan, hour: int) -> tuple[int, ...]:
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
        tag = hour % TAG_MOD
        base = hour * 3600 + lag
        out: list[int] = []
        for k in range(count):
            base += 60 + digest[9 + k] * 13
            out.append(base * US + micro(LATE_R + k, tag))
        return tuple(out)

    def block(self, ch: Chan, hour: int) -> Block:
        """The channel-hour ``hour`` (hours since the epoch) of ``ch``, freshly generated."""
        block = Block()
        if hour < ch.first_hour or (ch.end_us is not None and hour * HOUR_US > ch.end_us):
            return block
        hour_key = datetime.fromtimestamp(hour * 3600, UTC).strftime("%Y-%m-%dT%H")
        rng = Random(stable_int(f"{self.seed}:{ch.id}:{hour_key}"))
        w_us, w_asia = _hour_weights(hour)
        share = ch.spec.asia_share
        lam = ch.spec.rate * ((1 - share) * w_us + share * w_asia) * self.scale
        n = _poisson(rng, lam)
        gen = _BlockWriter(self.long_p, ch, hour, rng, block)
        for _ in range(n):
            gen.top_level()
        late = self.late_schedule(ch, hour)
        if late and gen.threadable:
            gen.late_replies(late)
        block.top.sort(key=lambda e: e[0])
        block.top_us = [e[0] for e in block.top]
        return block


class _BlockWriter:
    """Generates one block; holds the per-block state so helpers stay small."""

    __slots__ = (
        "block",
        "ch",
        "end_us",
        "hour",
        "long_p",
        "random",
        "rng",
        "start_s",
        "tag",
        "threadable",
        "used",
    )

    def __init__(self, long_p: float, ch: Chan, hour: int, rng: Random, block: Block) -> None:
        self.long_p = long_p
        self.ch = ch
        self.hour = hour
        self.rng = rng
        self.random = rng.random
        self.block = block
        self.start_s = hour * 3600
        self.end_us = (hour + 1) * HOUR_US
        self.tag = hour % TAG_MOD
        self.used: set[int] = set()
        self.threadable: list[tuple[int, dict[str, Any], str | None]] = []

    def alloc(self, sec: int) -> int:
        r = int(self.random() * 900)
        base = sec * US
        while True:
            us = base + micro(r, self.tag)
            if us not in self.used:
                self.used.add(us)
                return us
            r = (r + 1) % 900

    def author(self, group: str | None) -> str:
        if group is None:
            return pick(self.rng, self.ch.members)
        return pick(self.rng, self.ch.group_members[group])

    def text(self, template: Template, slots: Slots | None) -> tuple[str, Slots | None]:
        if template.plain:
            return template.text, slots
        if slots is None:
            slots = Slots(self.rng, self.ch.distinct_members)
        return template.text.format_map(slots), slots

    def human(self, us: int, user: str, text: str, risky: bool) -> dict[str, Any]:
        rnd = self.random
        h = f"{self.rng.getrandbits(128):032x}"
        msg: dict[str, Any] = {
            "type": "message",
            "user": user,
            "text": text,
            "ts": ts_text(us),
            "team": c.TEAM_ID,
            "client_msg_id": f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}",
        }
        if rnd() < (0.3 if risky else 0.1):
            self.react(msg, risky)
        x = rnd()
        if x < 0.04:
            msg["edited"] = {"user": user, "ts": ts_text(us + int(20 + rnd() * 900) * US + 1)}
        elif x < 0.045:
            msg["blocks"] = _rich_text(text, self.rng)
            msg["text"] = ""
        elif x < 0.05:
            self.attach_file(msg, user, us)
        return msg

    def react(self, msg: dict[str, Any], risky: bool) -> None:
        names = c.REACTIONS_RISK if risky else c.REACTIONS_ROUTINE
        reactions = []
        for name in dict.fromkeys(pick(self.rng, names) for _ in range(1 + int(self.random() * 2))):
            count = 1 + int(self.random() * 4)
            users = list(dict.fromkeys(pick(self.rng, self.ch.members) for _ in range(count)))
            reactions.append({"name": name, "users": users, "count": len(users)})
        msg["reactions"] = reactions

    def attach_file(self, msg: dict[str, Any], user: str, us: int) -> None:
        name, filetype, pretty, mimetype = pick(self.rng, c.FILE_KINDS)
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
            pool = GENERIC if rnd() < 0.3 else ch.routine
            template = pick(self.rng, pool)
            label, thread_p, mean = None, 0.15, 2.5
        else:
            template = pick(self.rng, kind.parents)
            label, thread_p, mean = scenario.name, scenario.thread_p, scenario.mean_replies
        user = self.author(template.group)
        text, slots = self.text(template, None)
        risky = scenario is not None and scenario.level in ("medium", "high", "critical")
        msg = self.human(us, user, text, risky)
        self.add_top(us, msg, label)
        self.threadable.append((us, msg, label))
        if rnd() < thread_p:
            self.thread(us, msg, kind, slots, mean)

    def _thread_of(self, us: int, msg: dict[str, Any]) -> Thread:
        entry = self.block.by_us[us]
        if entry[1] is not None:
            return entry[1]
        thread = Thread(msg, us)
        self.block.by_us[us] = (msg, thread)
        for i in range(len(self.block.top) - 1, -1, -1):
            if self.block.top[i][0] == us:
                self.block.top[i] = (us, msg, thread, False)
                break
        self.block.threads.append(thread)
        return thread

    def thread(
        self, us: int, msg: dict[str, Any], kind: Kind, slots: Slots | None, mean: float
    ) -> None:
        rnd, rng = self.random, self.rng
        scenario = kind.scenario
        long = scenario is not None and scenario.level != "low" and rnd() < self.long_p
        if long:
            n = 200 + int(rnd() * 250)
        else:
            n = min(30, 1 + int(rng.expovariate(1 / max(mean - 1, 0.5))))
        if slots is None:
            slots = Slots(rng, self.ch.distinct_members)
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
                template, label = pick(rng, ROUTINE_REPLIES), None
            elif k == n - 1 and n >= 3 and kind.closers and y < 0.45:
                template = pick(rng, kind.closers)
                label = scenario.closer_scenario or scenario.name
            elif y < 0.3 or not kind.replies:
                template, label = pick(rng, FILLERS), None
            else:
                template, label = pick(rng, kind.replies), scenario.name
            if template.group is None and rnd() < 0.3:
                user = parent_user
            else:
                user = self.author(template.group)
            text, slots = self.text(template, slots)
            risky = (
                label is not None
                and label != "resolution"
                and scenario is not None
                and scenario.level != "low"
            )
            self.reply(thread, self.alloc(t), user, text, label, risky)
            t += 10 + int(rng.expovariate(1 / gap))
        if thread.replies and rnd() < 0.04:
            self.broadcast(thread)

    def reply(
        self, thread: Thread, us: int, user: str, text: str, label: str | None, risky: bool
    ) -> None:
        msg = self.human(us, user, text, risky)
        msg["thread_ts"] = thread.parent["ts"]
        msg["parent_user_id"] = thread.parent.get("user")
        thread.replies.append(msg)
        thread.reply_us.append(us)
        self.block.replies_by_us[us] = thread
        self.block.truth[us] = label
        self.block.size += 1

    def broadcast(self, thread: Thread) -> None:
        candidates = [i for i, us in enumerate(thread.reply_us) if us < self.end_us]
        if not candidates:
            return
        i = pick(self.rng, candidates)
        reply = thread.replies[i]
        reply["subtype"] = "thread_broadcast"
        self.block.top.append((thread.reply_us[i], reply, thread, True))

    def late_replies(self, late: tuple[int, ...]) -> None:
        us, msg, _ = self.threadable[int(self.random() * len(self.threadable))]
        thread = self._thread_of(us, msg)
        slots = Slots(self.rng, self.ch.distinct_members)
        slots["op"] = f"<@{msg['user']}>"
        for reply_us in late:
            text, slots = self.text(pick(self.rng, LATE), slots)
            user = pick(self.rng, self.ch.members)
            self.reply(thread, reply_us, user, text, None, False)
            self.used.add(reply_us)

    def system(self, us: int) -> dict[str, Any]:
        user = pick(self.rng, self.ch.members)
        x = self.random()
        ts = ts_text(us)
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
        topic = self.ch.spec.topic if self.random() < 0.5 else pick(self.rng, c.SYSTEM_TOPICS)
        return {
            "type": "message",
            "subtype": "channel_topic",
            "user": user,
            "text": f"<@{user}> set the channel topic: {topic}",
            "topic": topic,
            "ts": ts,
        }

    def bot_post(self, us: int) -> tuple[dict[str, Any], str | None]:
        bot = BOTS[pick(self.rng, self.ch.spec.bots)]
        title_t, text_t, color, label = pick(self.rng, BOT_POSTS[bot.key])
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
            "ts": ts_text(us),
            "bot_id": bot.bot_id,
            "username": bot.username,
            "app_id": bot.app_id,
            "attachments": [attachment],
        }
        return msg, label
