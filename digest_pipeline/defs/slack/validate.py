"""What a Slack value must look like where it enters the pipeline: IDs, ``ts`` strings, messages.

One home for these shapes, used by the export reader (every record of an export), the extraction
planner (every message any source returns) and the list assets (channels, users). A value that
fails is one counted skip where it enters, so nothing crafted reaches a permalink, a mention or a
posted digest, and no stray type fails a run later (a ``reply_count`` of ``"many"`` used to fail
the coverage check on every run).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, TypeGuard

# Channel (C/G/D), user (U/W), bot (B), app (A) and team (T) IDs: upper-case letters and digits.
SLACK_ID = re.compile(r"[A-Z0-9]{2,32}")
# A message ``ts``: seconds, a dot, the sequence part; bounded so Decimal and datetime accept it.
MESSAGE_TS = re.compile(r"\d{1,12}\.\d{1,9}")

# Fields the pipeline reads, by the type Slack gives them. ``None`` is accepted for each (absent).
_TS_FIELDS = ("ts", "thread_ts", "latest_reply")
_ID_FIELDS = ("user", "bot_id", "parent_user_id", "app_id", "team")
_STR_FIELDS = ("text", "subtype", "username", "type")
_LIST_FIELDS = ("files", "blocks", "attachments", "reply_users")
_OBJECT_FIELDS = ("edited", "bot_profile")
_COUNT_FIELDS = ("reply_count", "reply_users_count")


def is_slack_id(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and SLACK_ID.fullmatch(value) is not None


def is_message_ts(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and MESSAGE_TS.fullmatch(value) is not None


def _count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _shown(value: object, size: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= size else text[: size - 1] + "…"


def message_problem(message: object) -> str | None:
    """Why a message payload cannot be used as it is, or ``None`` when it can."""
    if not isinstance(message, Mapping):
        return f"a {type(message).__name__}, not an object"
    if "ts" not in message:
        return "no 'ts'"
    for name in _TS_FIELDS:
        value = message.get(name)
        if (value is not None or name == "ts") and not is_message_ts(value):
            return f"'{name}' {_shown(value)} is not a Slack ts (digits.digits, a string)"
    for name in _ID_FIELDS:
        value = message.get(name)
        if value is not None and not is_slack_id(value):
            return f"'{name}' {_shown(value)} is not a Slack ID"
    for name in _STR_FIELDS:
        value = message.get(name)
        if value is not None and not isinstance(value, str):
            return f"'{name}' is a {type(value).__name__}, not a string"
    for name in _COUNT_FIELDS:
        value = message.get(name)
        if value is not None and not _count(value):
            return f"'{name}' {_shown(value)} is not a count"
    for name in _LIST_FIELDS:
        value = message.get(name)
        if value is not None and not isinstance(value, list):
            return f"'{name}' is a {type(value).__name__}, not a list"
    for name in _OBJECT_FIELDS:
        value = message.get(name)
        if value is not None and not isinstance(value, Mapping):
            return f"'{name}' is a {type(value).__name__}, not an object"
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
