"""What a Slack value must look like where it enters the pipeline: IDs, ``ts`` strings, messages.

One home for these shapes, used by the export reader (every record of an export), the extraction
planner (every message any source returns) and the list assets (channels, users). A value that
fails is one counted skip where it enters, so nothing crafted reaches a permalink, a mention or a
posted digest, and no stray type fails a run later (a ``reply_count`` of ``"many"`` used to fail
the coverage check on every run).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard

from digest_pipeline.defs.slack.ts import is_message_ts

# Channel (C/G/D), user (U/W), bot (B), app (A) and team (T) IDs: upper-case letters and digits.
SLACK_ID = re.compile(r"[A-Z0-9]{2,32}")


def is_slack_id(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and SLACK_ID.fullmatch(value) is not None


def _count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _shown(value: object, size: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= size else text[: size - 1] + "…"


@dataclass(frozen=True)
class _FieldKind:
    """Message fields of one kind: what a present value must pass, and the problem if not."""

    names: tuple[str, ...]
    accepts: Callable[[object], bool]
    problem: str  # formatted with the field's name, its value shown, and its type name


# Fields the pipeline reads, by the type Slack gives them. ``None`` is accepted for each (absent)
# but ``ts``, which every message has. Checked in this order; the first problem is reported.
_FIELD_KINDS = (
    _FieldKind(
        ("ts", "thread_ts", "latest_reply"),
        is_message_ts,
        "'{name}' {shown} is not a Slack ts (digits.digits, a string)",
    ),
    _FieldKind(
        ("user", "bot_id", "parent_user_id", "app_id", "team"),
        is_slack_id,
        "'{name}' {shown} is not a Slack ID",
    ),
    _FieldKind(
        ("text", "subtype", "username", "type"),
        lambda value: isinstance(value, str),
        "'{name}' is a {type}, not a string",
    ),
    _FieldKind(("reply_count", "reply_users_count"), _count, "'{name}' {shown} is not a count"),
    _FieldKind(
        ("files", "blocks", "attachments", "reply_users"),
        lambda value: isinstance(value, list),
        "'{name}' is a {type}, not a list",
    ),
    _FieldKind(
        ("edited", "bot_profile"),
        lambda value: isinstance(value, Mapping),
        "'{name}' is a {type}, not an object",
    ),
)


def message_problem(message: object) -> str | None:
    """Why a message payload cannot be used as it is, or ``None`` when it can."""
    if not isinstance(message, Mapping):
        return f"a {type(message).__name__}, not an object"
    if "ts" not in message:
        return "no 'ts'"
    for kind in _FIELD_KINDS:
        for name in kind.names:
            value = message.get(name)
            if (value is not None or name == "ts") and not kind.accepts(value):
                shown, type_name = _shown(value), type(value).__name__
                return kind.problem.format(name=name, shown=shown, type=type_name)
    return _reactions_problem(message.get("reactions"))


def _reactions_problem(reactions: Any) -> str | None:
    if reactions is None:
        return None
    if not isinstance(reactions, list):
        return f"'reactions' is a {type(reactions).__name__}, not a list"
    for reaction in reactions:
        if not isinstance(reaction, Mapping) or not isinstance(reaction.get("name"), str):
            return f"a reaction without a name: {_shown(reaction)}"
        count, users = reaction.get("count"), reaction.get("users")
        if count is not None and not _count(count):
            return f"reaction count {_shown(count)} is not a count"
        if users is not None and not isinstance(users, list):
            return "reaction 'users' is not a list"
    return None
