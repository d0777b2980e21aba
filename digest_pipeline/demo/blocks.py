"""The demo's compiled content and what it generates: channel-hour blocks of messages.

Time is integer microseconds throughout. A :class:`Block` is one channel-hour: its top-level
messages and every reply to them (see :mod:`digest_pipeline.demo.generate` for how it is made and
:mod:`digest_pipeline.demo.workspace` for how it is served).
"""

from __future__ import annotations

import hashlib
from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from digest_pipeline.defs.slack.ts import US, ts_micros
from digest_pipeline.demo import content as c

HOUR_US = 3600 * US
MAX_REPLY_LAG_S = 8 * 3600
# Blocks before the window whose ordinary replies can still land in it.
LOOKBACK_HOURS = MAX_REPLY_LAG_S // 3600 + 1
MAX_LATE_S = 10 * 86400 + 3600
LATE_HOURS = MAX_LATE_S // 3600 + 2
LATE_P = 0.09  # chance that a busy channel-hour gets a follow-up days later
MIX = 7919  # odd and not a multiple of 5: multiplication by it permutes 0..999_999
TAG_MOD = 1000  # per-hour tag in the microseconds; blocks 1000 h apart never overlap in time
LATE_R = 990  # micro "r" values reserved for late follow-ups (ordinary messages use 0..899)


def stable_int(key: str) -> int:
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big")


def micro(r: int, tag: int) -> int:
    return ((r * TAG_MOD + tag) * MIX) % US


def parse_ts(value: Any) -> int | None:
    """Slack timestamp (string or number) to integer microseconds, or None if unreadable."""
    if value is None or isinstance(value, bool):
        return None
    text = repr(value) if isinstance(value, float) else str(value).strip()
    try:
        return ts_micros(text)
    except ValueError:
        return None


def copy_json(value: Any) -> Any:
    """Deep copy of JSON-like data (faster than copy.deepcopy: no memo, no reduce)."""
    if isinstance(value, dict):
        return {k: copy_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [copy_json(v) for v in value]
    return value


# ---------------------------------------------------------------------------------------------
# Compiled content
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Template:
    text: str
    group: str | None  # who must write it (cm/de/es), or anyone in the channel
    plain: bool  # no {slots}


def compile_template(text: str) -> Template:
    group = None
    if len(text) > 3 and text[2] == "|" and text[:2] in {"cm", "de", "es"}:
        group, text = text[:2], text[3:]
    return Template(text, group, "{" not in text)


def compile_all(texts: tuple[str, ...]) -> tuple[Template, ...]:
    return tuple(compile_template(t) for t in texts)


@dataclass(frozen=True)
class Kind:
    name: str  # "routine" | "system" | "bot" | scenario name
    scenario: c.Scenario | None
    parents: tuple[Template, ...]
    replies: tuple[Template, ...]
    closers: tuple[Template, ...]


class Chan:
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
        self.routine = compile_all(c.ROUTINE.get(spec.name, ())) or compile_all(c.GENERIC_ROUTINE)
        kinds: list[Kind] = []
        cum: list[float] = []
        total = 0.0
        for name, weight in spec.mix.items():
            if name == "bot" and not spec.bots:
                continue
            scenario = c.SCENARIOS.get(name)
            kinds.append(
                Kind(
                    name,
                    scenario,
                    compile_all(scenario.parents) if scenario else (),
                    compile_all(scenario.replies) if scenario else (),
                    compile_all(scenario.closers) if scenario else (),
                )
            )
            total += weight
            cum.append(total)
        self.kinds = tuple(kinds)
        self.cum = tuple(x / total for x in cum)


GENERIC = compile_all(c.GENERIC_ROUTINE)
ROUTINE_REPLIES = compile_all(c.ROUTINE_REPLIES)
FILLERS = compile_all(c.FILLER_REPLIES)
LATE = compile_all(c.LATE_REPLIES)
BOT_POSTS = {
    key: tuple((compile_template(t), compile_template(x), color, sc) for t, x, color, sc in posts)
    for key, posts in c.BOT_POSTS.items()
}
BOTS = {b.key: b for b in c.BOTS}


# ---------------------------------------------------------------------------------------------
# Generated data
# ---------------------------------------------------------------------------------------------


class Thread:
    __slots__ = ("parent", "parent_us", "replies", "reply_us")

    def __init__(self, parent: dict[str, Any], parent_us: int) -> None:
        self.parent = parent
        self.parent_us = parent_us
        self.replies: list[dict[str, Any]] = []
        self.reply_us: list[int] = []


class Block:
    """One channel-hour: its top-level messages and every reply to them."""

    __slots__ = ("by_us", "late", "replies_by_us", "size", "threads", "top", "top_us", "truth")

    def __init__(self) -> None:
        # (us, message, thread or None, is_broadcast), sorted by us once complete
        self.top: list[tuple[int, dict[str, Any], Thread | None, bool]] = []
        self.top_us: list[int] = []
        self.by_us: dict[int, tuple[dict[str, Any], Thread | None]] = {}
        self.threads: list[Thread] = []
        self.replies_by_us: dict[int, Thread] = {}
        self.truth: dict[int, str | None] = {}
        self.late: tuple[int, ...] = ()
        self.size = 0


def thread_fields(thread: Thread, now_us: int) -> dict[str, Any] | None:
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
