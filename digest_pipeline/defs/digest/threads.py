"""Reading one window of messages: threads, the risk each thread is, who owns it, which threads
were resolved and which urgent questions nobody answered.

Input is one row per message joined with its assessment (see :data:`DIGEST_INPUT_COLUMNS`; the
:data:`OPTIONAL_INPUT_COLUMNS` are filled with neutral defaults when a caller lacks them).
A thread is one risk: its line cites the thread's most severe message, so a 40-reply escalation
shows once, with the worst thing said in it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, cast

import pandas as pd

from digest_pipeline.contract.enumerations import LEVEL_RANK, LEVELS
from digest_pipeline.defs.digest.impact import thread_impact
from digest_pipeline.defs.digest.models import Question, ThreadRisk
from digest_pipeline.defs.risk.rules import INHERITED_PREFIXES
from digest_pipeline.defs.slack.people import Person

# What the digest reads of ``messages`` and of its ``risk_assessments`` row.
MESSAGE_COLUMNS = [
    *("id", "channel_id", "channel", "user", "timestamp", "content", "permalink"),
    *("is_reply", "parent_id"),
]
ASSESSMENT_COLUMNS = [
    *("risk_level", "risk_category", "description", "confidence_score", "requires_attention"),
]
DIGEST_INPUT_COLUMNS = MESSAGE_COLUMNS + ASSESSMENT_COLUMNS
# Columns that make the digest richer (owners, unanswered questions); neutral when missing.
OPTIONAL_INPUT_COLUMNS: dict[str, Any] = {
    "user_id": None,
    "mentions": "[]",
    "urgency": "low",
    "reply_count": 0,
    "is_bot": False,
}
QUOTE_CHARS = 140
BROADCAST_MENTIONS = frozenset({"here", "channel", "everyone"})
_RESOLVED = re.compile(
    r"\b(resolved|fixed|back up|back online|passed|cleared|released|closed|closing|recovered|"
    r"no longer|all good|under control|false alarm)\b",
    re.IGNORECASE,
)
_QUESTION = re.compile(r"\?\s*($|\s)|\?$")


def level_rank(level: object) -> int:
    return LEVEL_RANK.get(str(level), 0)


def quote(text: object, limit: int = QUOTE_CHARS) -> str:
    """A message's text as a one-line quote of at most ``limit`` characters.

    Code fences go: one cut in half would swallow the rest of a table or a Slack post.
    """
    flat = " ".join(str(text or "").replace("```", " ").replace("`", "'").split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def normalize_inputs(frame: pd.DataFrame) -> pd.DataFrame:
    """Add the optional columns a caller lacks, with neutral values."""
    missing = {c: v for c, v in OPTIONAL_INPUT_COLUMNS.items() if c not in frame.columns}
    if not missing:
        return frame
    return frame.assign(**missing)


def thread_ids(frame: pd.DataFrame) -> pd.Series:
    replies = frame["is_reply"].fillna(False).astype(bool) & frame["parent_id"].notna()
    # pandas is untyped here: one column selects a Series.
    return cast(pd.Series, frame["parent_id"].where(replies, frame["id"]))


def _mentions(value: object) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    if isinstance(value, str) and value.startswith("["):
        try:
            parsed = json.loads(value)
        except ValueError:
            return []
        return [str(v) for v in parsed] if isinstance(parsed, list) else []
    return []


def _person(message: Mapping[str, Any], people: Mapping[str, Person]) -> str:
    """``Name, role`` of a message's human author ("" for a bot or an unknown author)."""
    user_id = message["user_id"]
    person = people.get(user_id) if isinstance(user_id, str) else None
    if person is not None:
        return "" if person.is_bot else person.label
    user = message["user"]
    if not _truthy(message["is_bot"]) and isinstance(user, str) and user:
        return user
    return ""


def _raised_by(thread: list[dict[str, Any]], cause_index: int, people: Mapping[str, Person]) -> str:
    """Who raised the risk: the cause's author, or for a bot's alert the first person who
    answered it. ``thread`` is in time order."""
    for message in thread[cause_index:]:
        if who := _person(message, people):
            return who
    return ""


def _asked(thread: list[dict[str, Any]], cause_index: int, people: Mapping[str, Person]) -> str:
    """Someone @-mentioned in this thread from the cause on, the latest ask first."""
    for message in [thread[cause_index], *thread[:cause_index:-1]]:
        for user_id in _mentions(message["mentions"]):
            person = people.get(user_id)
            if user_id not in BROADCAST_MENTIONS and person is not None and not person.is_bot:
                return person.label
    return ""


def _threads(frame: pd.DataFrame) -> dict[str, list[dict[str, Any]]]:
    """Messages grouped by thread (a reply joins its parent's), each thread in time order."""
    threads: dict[str, list[dict[str, Any]]] = {}
    for message in frame.sort_values("timestamp", kind="stable").to_dict("records"):
        parent = message["parent_id"]
        is_reply = _truthy(message["is_reply"]) and isinstance(parent, str)
        threads.setdefault(parent if is_reply else message["id"], []).append(message)
    return threads


def _confidence(message: Mapping[str, Any]) -> float:
    value = message["confidence_score"]
    return 0.0 if _missing(value) else float(value)


def _inherited(message: Mapping[str, Any]) -> bool:
    """A reply the rules read only through its parent ("Thread update: ...")."""
    return str(message["description"]).startswith(INHERITED_PREFIXES)


def thread_risks(
    frame: pd.DataFrame | None, people: Mapping[str, Person] | None = None
) -> list[ThreadRisk]:
    """One entry per thread with a medium-or-worse message, ranked by :attr:`rank_score`.

    A thread is one risk, at its most severe level, described by the message that **raised** it
    (the first medium+ message that reads on its own, usually the root) with its figures; a
    later message at a higher level is the **update** ("escalated to critical: ..."). Ranking
    is by level and business impact (money, units, days left, a stop, safety), not by how many
    messages the thread drew.
    """
    if frame is None or frame.empty:
        return []
    people = people or {}
    out = []
    for thread_id, messages in _threads(normalize_inputs(frame)).items():
        risky = [i for i, m in enumerate(messages) if level_rank(m["risk_level"]) >= 1]
        if not risky:
            continue
        own = [i for i in risky if not _inherited(messages[i])]
        cause_index = (own or risky)[0]
        cause = messages[cause_index]
        top = max(level_rank(messages[i]["risk_level"]) for i in risky)
        worst = [messages[i] for i in risky if level_rank(messages[i]["risk_level"]) == top]
        update = worst[-1] if level_rank(cause["risk_level"]) < top else None
        # Who should act: someone asked by name in the thread, else who raised the risk.
        raised = _raised_by(messages, cause_index, people)
        asked = _asked(messages, cause_index, people)
        owner, reason = (asked, "mentioned") if asked else (raised, "raised" if raised else "")
        impact = thread_impact(m["content"] for m in messages)
        out.append(
            ThreadRisk(
                thread_id=thread_id,
                level=LEVELS[top],
                message_id=cause["id"],
                channel_id=cause["channel_id"],
                channel=cause["channel"],
                user=cause["user"],
                timestamp=cause["timestamp"],
                description=cause["description"],
                category=cause["risk_category"]
                if not _missing(cause["risk_category"])
                else (update or cause)["risk_category"],
                permalink=cause["permalink"],
                # Someone must act when any risky message of the thread says so.
                requires_attention=any(_truthy(messages[i]["requires_attention"]) for i in risky),
                confidence=max(_confidence(m) for m in worst),
                quote=quote(cause["content"]),
                owner=owner,
                owner_reason=reason,
                messages=len(messages),
                raised_by=raised,
                asked=asked,
                impact=impact.points(),
                facts=tuple(impact.facts()),
                update_message_id=update["id"] if update is not None else None,
                update_quote=quote(update["content"]) if update is not None else "",
                update_permalink=str(update["permalink"]) if update is not None else "",
                update_level=str(update["risk_level"]) if update is not None else None,
            )
        )
    out.sort(key=lambda r: (r.rank_score, r.confidence, r.timestamp), reverse=True)
    return out


def resolved_threads(frame: pd.DataFrame, earlier_risky: set[str]) -> list[dict[str, Any]]:
    """Threads that were risky and that a message closed: a low message saying the problem is
    over ("Line is back up", "Customs released the shipment"), followed by nothing worse than low
    (the "Nice!" and ":tada:" after a fix do not reopen it); or a ✅ on the digest line."""
    if frame.empty:
        return []
    out = []
    for thread_id, messages in _threads(frame).items():
        last = messages[-1]
        marked = _truthy(last.get("feedback_resolved"))  # ✅ on a digest line (feedback.py)
        closer = None
        for message in reversed(messages):  # the trailing low messages, latest first
            if message["risk_level"] != "low":
                break
            if _RESOLVED.search(str(message["content"])):
                closer = message
                break
        if not marked and closer is None:
            continue
        risky_here = len(messages) > 1 and any(
            level_rank(m["risk_level"]) >= LEVEL_RANK["medium"] for m in messages
        )
        if thread_id in earlier_risky or risky_here or marked:
            shown = closer if closer is not None else last
            out.append(
                {
                    "thread_id": thread_id,
                    "message_id": shown["id"],
                    "channel_id": shown["channel_id"],
                    "channel": shown["channel"],
                    "user": shown["user"],
                    "permalink": shown["permalink"],
                    "text": quote(shown["content"], 160),
                }
            )
    return out


def unanswered_questions(frame: pd.DataFrame) -> list[Question]:
    """Urgent top-level questions with no reply yet, oldest first.

    Urgent: urgency high or critical, sent with @here/@channel, or assessed critical.
    Answered: the parent advertises replies (``reply_count``) or a reply from someone else is in
    the window. Bots do not ask questions.
    """
    if frame.empty:
        return []
    frame = normalize_inputs(frame)
    replies = frame.loc[frame["is_reply"].fillna(False).astype(bool)]
    repliers: dict[str, list[str]] = {}
    for parent, user in zip(replies["parent_id"], replies["user"], strict=True):
        if isinstance(parent, str):
            repliers.setdefault(parent, []).append(str(user))
    out = []
    row: Any  # itertuples yields named tuples; pandas types them as plain tuples
    for row in frame.sort_values("timestamp").itertuples(index=False):
        if _truthy(row.is_reply) or _truthy(row.is_bot) or not _QUESTION.search(str(row.content)):
            continue
        why = _urgent_reason(row.risk_level, row.urgency, _mentions(row.mentions))
        if why is None:
            continue
        seen = repliers.get(row.id, [])
        own = sum(1 for u in seen if u == row.user)
        # The parent's reply_count also covers replies outside the window; the asker's own
        # follow-ups ("anyone?") are no answer.
        if len(seen) > own or _count(row.reply_count) > own:
            continue
        out.append(
            Question(
                message_id=row.id,
                channel_id=row.channel_id,
                channel=row.channel,
                user=row.user,
                timestamp=row.timestamp,
                quote=quote(row.content),
                permalink=row.permalink,
                why=why,
            )
        )
    return out


def _urgent_reason(risk_level: object, urgency: object, mentions: list[str]) -> str | None:
    """Why a question is urgent. A high *risk* alone is not enough: the asker's own urgency
    (wording, @here, alarm reactions) is, and so is a critical risk."""
    if level_rank(risk_level) >= LEVEL_RANK["critical"]:
        return f"{risk_level} risk"
    if not BROADCAST_MENTIONS.isdisjoint(mentions):
        return "@" + next(m for m in mentions if m in BROADCAST_MENTIONS)
    if level_rank(urgency) >= LEVEL_RANK["high"]:
        return f"{urgency} urgency"
    return None


def _missing(value: object) -> bool:
    """None, NaN, pd.NA or NaT (warehouse reads carry nullable dtypes)."""
    return (
        value is None
        or value is pd.NA
        or value is pd.NaT
        or (isinstance(value, float) and value != value)
    )


def _truthy(value: object) -> bool:
    return not _missing(value) and bool(value)


def _count(value: object) -> int:
    try:
        return 0 if _missing(value) else int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return 0


def level_counts(frame: pd.DataFrame) -> dict[str, int]:
    counts = frame["risk_level"].value_counts().to_dict() if len(frame) else {}
    return {level: int(counts.get(level, 0)) for level in LEVELS}
