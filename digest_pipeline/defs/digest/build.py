"""Pure digest logic: rank risks by thread, compare windows, find owners and open questions.

Input is one row per message joined with its assessment (see :data:`DIGEST_INPUT_COLUMNS`; the
:data:`OPTIONAL_INPUT_COLUMNS` are filled with neutral defaults when a caller lacks them).
A thread is one risk: its line cites the thread's most severe message, so a 40-reply escalation
shows once, with the worst thing said in it. :func:`build_digest` returns the table rows;
:func:`build_digests` also returns the overall :class:`DigestContent` that
:mod:`~digest_pipeline.defs.digest.render` turns into Markdown, Slack Block Kit and HTML.

Audience: the overall digest (``channel_id = '*'``) goes to a wide audience, so it quotes no
private channel unless that channel is on the allow list; it still *counts* their messages.
A channel with ``[no-digest]`` in its topic or purpose is left out of every row.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import pandas as pd

from digest_pipeline.defs.digest.impact import thread_impact
from digest_pipeline.defs.digest.models import (
    ChannelLine,
    Citation,
    DigestContent,
    Person,
    Question,
    SummarySentence,
    ThreadRisk,
)
from digest_pipeline.defs.digest.render import RiskGroup, focus, render_markdown
from digest_pipeline.defs.enrichment.taxonomy import LEVEL_RANK, LEVELS
from digest_pipeline.defs.risk.rules import INHERITED_PREFIXES

DIGEST_INPUT_COLUMNS = [
    "id",
    "channel_id",
    "channel",
    "user",
    "timestamp",
    "content",
    "permalink",
    "is_reply",
    "parent_id",
    "risk_level",
    "risk_category",
    "description",
    "confidence_score",
    "requires_attention",
]
# Columns that make the digest richer (owners, unanswered questions); neutral when missing.
OPTIONAL_INPUT_COLUMNS: dict[str, Any] = {
    "user_id": None,
    "mentions": "[]",
    "urgency": "low",
    "reply_count": 0,
    "is_bot": False,
}
OVERALL = "*"
TOP_RISKS = 10
QUOTE_CHARS = 140
NO_DIGEST_MARKER = "[no-digest]"
BROADCAST_MENTIONS = frozenset({"here", "channel", "everyone"})
_RESOLVED = re.compile(
    r"\b(resolved|fixed|back up|back online|passed|cleared|released|closed|closing|recovered|"
    r"no longer|all good|under control|false alarm)\b",
    re.IGNORECASE,
)
_QUESTION = re.compile(r"\?\s*($|\s)|\?$")


def _level_rank(level: object) -> int:
    return LEVEL_RANK.get(str(level), 0)


def quote(text: object, limit: int = QUOTE_CHARS) -> str:
    """A message's text as a one-line quote of at most ``limit`` characters.

    Code fences go: one cut in half would swallow the rest of a table or a Slack post.
    """
    flat = " ".join(str(text or "").replace("```", " ").replace("`", "'").split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def people_directory(users: pd.DataFrame | None) -> dict[str, Person]:
    """``user_id → Person`` from ``slack_users`` (display name, else real name, else handle)."""
    if users is None or users.empty or "user_id" not in users:
        return {}
    out: dict[str, Person] = {}
    for row in users.to_dict("records"):
        user_id = row.get("user_id")
        if not isinstance(user_id, str):
            continue
        # The same name the messages table shows (display name first), with the role.
        name = next(
            (
                str(v).strip()
                for v in (row.get("display_name"), row.get("real_name"), row.get("name"))
                if isinstance(v, str) and v.strip()
            ),
            user_id,
        )
        title = row.get("title")
        out[user_id] = Person(
            user_id,
            name,
            title.strip() if isinstance(title, str) else "",
            _truthy(row.get("is_bot")),
        )
    return out


def normalize_inputs(frame: pd.DataFrame) -> pd.DataFrame:
    """Add the optional columns a caller lacks, with neutral values."""
    missing = {c: v for c, v in OPTIONAL_INPUT_COLUMNS.items() if c not in frame.columns}
    if not missing:
        return frame
    return frame.assign(**missing)


def thread_ids(frame: pd.DataFrame) -> pd.Series:
    replies = frame["is_reply"].fillna(False).astype(bool) & frame["parent_id"].notna()
    return frame["parent_id"].where(replies, frame["id"])


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
        risky = [i for i, m in enumerate(messages) if _level_rank(m["risk_level"]) >= 1]
        if not risky:
            continue
        own = [i for i in risky if not _inherited(messages[i])]
        cause_index = (own or risky)[0]
        cause = messages[cause_index]
        top = max(_level_rank(messages[i]["risk_level"]) for i in risky)
        worst = [messages[i] for i in risky if _level_rank(messages[i]["risk_level"]) == top]
        update = worst[-1] if _level_rank(cause["risk_level"]) < top else None
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
            _level_rank(m["risk_level"]) >= LEVEL_RANK["medium"] for m in messages
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
    if _level_rank(risk_level) >= LEVEL_RANK["critical"]:
        return f"{risk_level} risk"
    if not BROADCAST_MENTIONS.isdisjoint(mentions):
        return "@" + next(m for m in mentions if m in BROADCAST_MENTIONS)
    if _level_rank(urgency) >= LEVEL_RANK["high"]:
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


@dataclass(frozen=True)
class DigestInputs:
    window_start: datetime
    window_end: datetime
    frame: pd.DataFrame  # DIGEST_INPUT_COLUMNS (+ OPTIONAL_INPUT_COLUMNS)
    channels: pd.DataFrame  # slack_channels
    previous: pd.DataFrame | None = None  # the previous window's rows, for new/escalated/resolved
    users: pd.DataFrame | None = None  # slack_users, for owners' names and roles
    private_allow: frozenset[str] = frozenset()  # private channels (IDs or names) quotable overall


def opted_out_channels(channels: pd.DataFrame) -> set[str]:
    if channels.empty:
        return set()
    text = (channels["topic"].fillna("") + " " + channels["purpose"].fillna("")).str.lower()
    return set(channels.loc[text.str.contains(NO_DIGEST_MARKER, regex=False), "channel_id"])


def audience_filter(frame: pd.DataFrame, channels: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Drop channels that opted out with ``[no-digest]`` in their topic or purpose."""
    if channels.empty or frame.empty:
        return frame, sorted(opted_out_channels(channels)) if not channels.empty else []
    opted_out = opted_out_channels(channels)
    return frame.loc[~frame["channel_id"].isin(opted_out)], sorted(opted_out)


def hidden_channels(channels: pd.DataFrame, allow: Iterable[str] = ()) -> set[str]:
    """Private channels whose content a wide audience may not see (IDs), minus the allow list."""
    if channels.empty:
        return set()
    allowed = {a.strip().lstrip("#") for a in allow}
    private = channels.loc[channels["is_private"].fillna(False).astype(bool)]
    return {
        cid
        for cid, name in zip(private["channel_id"], private["name"], strict=True)
        if cid not in allowed and name not in allowed
    }


def _with_changes(risks: list[ThreadRisk], before: Mapping[str, ThreadRisk]) -> list[ThreadRisk]:
    """Mark each risk new, escalated or ongoing against the previous window's threads."""
    out = []
    for r in risks:
        was = before.get(r.thread_id)
        if was is None:
            out.append(r)
        elif LEVEL_RANK[r.level] > LEVEL_RANK[was.level]:
            out.append(replace(r, status="escalated", previous_level=was.level))
        else:
            out.append(replace(r, status="ongoing", previous_level=was.level))
    return out


def _trend(
    frame: pd.DataFrame, freq: str, start: datetime, end: datetime, fmt: str = "%H:%M"
) -> list[tuple[str, int]]:
    """Medium+ messages per bucket over the whole window, zero buckets included."""
    buckets = pd.date_range(
        pd.Timestamp(start).tz_convert("UTC").floor(freq),
        pd.Timestamp(end).tz_convert("UTC"),
        freq=freq,
        inclusive="left",
    )
    counts: dict[pd.Timestamp, int] = {}
    if not frame.empty:
        risky = frame.loc[frame["risk_level"].map(_level_rank).fillna(0) >= LEVEL_RANK["medium"]]
        counted = pd.to_datetime(risky["timestamp"], utc=True).dt.floor(freq).value_counts()
        counts = {ts: int(n) for ts, n in counted.items()}
    zone = getattr(start, "tzinfo", None)
    return [
        (ts.tz_convert(zone).strftime(fmt) if zone else ts.strftime(fmt), counts.get(ts, 0))
        for ts in buckets
    ]


SUMMARY_RISKS = 3  # critical issues the summary names one by one
SUMMARY_KINDS = 4  # issues (critical, or kinds of issue) it names in all


def _channels(group: RiskGroup) -> str:
    return ", ".join(f"#{c}" for c in group.channels[:3])


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def extractive_summary(content: DigestContent, label: str) -> tuple[SummarySentence, ...]:
    """The default summary: the counts, what changed, critical issues in the digest's own words,
    where the other risks concentrate (kind of issue, threads, channels) and the questions
    nobody answered; each claim about messages cites them."""
    if content.message_count == 0:
        return (SummarySentence(f"{label}: no messages."),)
    by_level = content.threads_by_level
    sentences = [
        SummarySentence(
            f"{label}: {_plural(content.message_count, 'message')} in "
            f"{_plural(content.channel_count, 'channel')}; {by_level['critical']} critical, "
            f"{by_level['high']} high and {by_level['medium']} medium risk threads."
        )
    ]
    if content.has_previous:
        sentences.append(
            SummarySentence(
                f"{len(content.new)} new, {len(content.escalated)} escalated and "
                f"{len(content.resolved)} resolved since the previous window."
            )
        )
    groups, _ = focus(content)
    if not groups:
        sentences.append(SummarySentence("Nothing needs attention."))
    # Critical issues one by one, in their own words; the rest as where the risk is
    # concentrated (kind of issue, threads, channels), one sentence per level.
    critical = [g for g in groups if g.level == "critical"][:SUMMARY_RISKS]
    for group in critical:
        who = f" — {group.owner}" if group.owner.startswith("raised") else ""
        who = who or (f" — owner {group.owner}" if group.owner else "")
        sentences.append(
            SummarySentence(
                f"Critical: {group.description} in {_channels(group)}{who}.",
                tuple(Citation(r.message_id, r.permalink) for r in group.risks[:3]),
            )
        )
    rest = [g for g in groups if g.level != "critical"][: SUMMARY_KINDS - len(critical)]
    for level in ("high", "medium"):
        kinds = [g for g in rest if g.level == level]
        if not kinds:
            continue
        parts = [
            f"{g.kind} ({len(g.risks)} threads in {_channels(g)})"
            if len(g.risks) > 1
            else f"{g.description} in {_channels(g)}"
            for g in kinds
        ]
        sentences.append(
            SummarySentence(
                f"{level.capitalize()}: {'; '.join(parts)}.",
                tuple(Citation(g.first.message_id, g.first.permalink) for g in kinds),
            )
        )
    if content.questions:
        n = len(content.questions)
        sentences.append(
            SummarySentence(
                f"{_plural(n, 'urgent question')} still without an answer.",
                tuple(Citation(q.message_id, q.permalink) for q in content.questions[:3]),
            )
        )
    return tuple(sentences)


def digest_content(
    inputs: DigestInputs,
    title: str,
    frame: pd.DataFrame,
    *,
    kind: str,
    scope: str,
    label: str,
    previous: pd.DataFrame | None,
    people: Mapping[str, Person],
    trend_freq: str | None,
    counted: pd.DataFrame | None = None,
    per_channel: tuple[ChannelLine, ...] = (),
    hidden_channels_count: int = 0,
    compared: bool | None = None,
) -> DigestContent:
    """The content of one digest over ``frame`` (the rows it may quote).

    ``counted`` (default: ``frame``) is what the message and thread counts cover; the overall
    digest counts private channels it does not quote.
    """
    counted = frame if counted is None else counted
    has_previous = compared if compared is not None else previous is not None
    earlier = {r.thread_id: r for r in thread_risks(previous)}
    risks = _with_changes(thread_risks(frame, people), earlier)
    if not has_previous:
        # Nothing to compare with: no risk is "new", none "ongoing".
        risks = [replace(r, status="") for r in risks]
    resolved = resolved_threads(frame, set(earlier)) if len(frame) else []
    # A resolved thread is no longer something to act on: it is listed once, as resolved, with
    # the risk it was.
    known = {**earlier, **{r.thread_id: r for r in risks}}
    for item in resolved:
        was = known.get(item["thread_id"])
        if was is not None:
            item.update(risk_level=was.level, description=was.description)
    done = {item["thread_id"] for item in resolved}
    risks = [r for r in risks if r.thread_id not in done]
    content = DigestContent(
        title=title,
        kind=kind,
        scope=scope,
        window_start=inputs.window_start,
        window_end=inputs.window_end,
        message_count=len(counted),
        thread_count=int(thread_ids(counted).nunique()) if len(counted) else 0,
        channel_count=int(counted["channel_id"].nunique()) if len(counted) else 0,
        risks=tuple(risks),
        resolved=tuple(resolved),
        questions=tuple(unanswered_questions(frame)),
        trend=tuple(_trend(frame, trend_freq, inputs.window_start, inputs.window_end))
        if trend_freq
        else (),
        per_channel=per_channel,
        hidden_messages=len(counted) - len(frame),
        hidden_channels=hidden_channels_count,
        has_previous=has_previous,
    )
    return replace(content, summary_sentences=extractive_summary(content, label))


def _dumps(items: Iterable[Any]) -> str:
    return json.dumps(
        [i.as_dict() if hasattr(i, "as_dict") else i for i in items], ensure_ascii=False
    )


def _row(inputs: DigestInputs, channel: str, counted: pd.DataFrame, c: DigestContent) -> dict:
    counts = level_counts(counted)
    return {
        "window_start": inputs.window_start,
        "window_end": inputs.window_end,
        "channel_id": c.scope,
        "channel": channel,
        "message_count": c.message_count,
        "thread_count": c.thread_count,
        "low_count": counts["low"],
        "medium_count": counts["medium"],
        "high_count": counts["high"],
        "critical_count": counts["critical"],
        "attention_count": len(c.actions),
        "top_risks": _dumps(c.risks[:TOP_RISKS]),
        "summary": c.summary,
        "summary_source": c.summary_source,
        "summary_citations": _dumps(c.summary_citations),
        "new_risks": _dumps(c.new),
        "escalated_risks": _dumps(c.escalated),
        "resolved_risks": _dumps(c.resolved),
        "action_items": _dumps(c.actions),
        "unanswered_questions": _dumps(c.questions),
        "trend": json.dumps([{"bucket": b, "medium_plus": n} for b, n in c.trend]),
        "hidden_message_count": c.hidden_messages,
    }


# Writes the overall digest's summary in place of the extractive one (the LLM narrative, see
# :mod:`.narrative`); None keeps the extractive summary.
Narrator = Callable[[DigestContent, Mapping[str, Person]], tuple[SummarySentence, ...] | None]


def build_digests(
    inputs: DigestInputs,
    title: str,
    *,
    kind: str = "hourly",
    trend_freq: str | None = None,
    narrator: Narrator | None = None,
) -> tuple[pd.DataFrame, DigestContent, dict[str, DigestContent]]:
    """Per-channel rows plus one overall row (``channel_id = '*'``), and their contents.

    Markdown is rendered here so the table carries it; Block Kit and HTML are rendered from the
    returned contents by whoever delivers them. ``narrator`` may write the overall digest's
    summary (per-channel rows keep the extractive one).
    """
    frame = normalize_inputs(inputs.frame)
    previous = inputs.previous
    previous = normalize_inputs(previous) if previous is not None and len(previous) else None
    frame, opted_out = audience_filter(frame, inputs.channels)
    if previous is not None:
        previous, _ = audience_filter(previous, inputs.channels)
    people = people_directory(inputs.users)
    hidden = hidden_channels(inputs.channels, inputs.private_allow)
    # An empty previous window is one never extracted (or entirely silent): no comparison, so
    # nothing is called "new" just because the warehouse starts today.
    compared = previous is not None
    rows: list[dict[str, Any]] = []
    contents: dict[str, DigestContent] = {}
    lines: list[ChannelLine] = []
    for (channel_id, channel), group in frame.groupby(["channel_id", "channel"], sort=True):
        prev = None if previous is None else previous.loc[previous["channel_id"] == channel_id]
        content = digest_content(
            inputs,
            f"{title} — #{channel}",
            group,
            kind=kind,
            scope=channel_id,
            label=f"#{channel}",
            previous=prev,
            people=people,
            trend_freq=trend_freq,
            compared=compared,
        )
        contents[channel_id] = content
        row = _row(inputs, channel, group, content)
        row["markdown"] = render_markdown(content)
        row["opted_out_channels"] = "[]"
        rows.append(row)
        if channel_id not in hidden:
            lines.append(ChannelLine(channel_id, channel, len(group), content.threads_by_level))
    # The overall digest goes to a wide audience: it never quotes hidden (private) channels.
    public = frame.loc[~frame["channel_id"].isin(hidden)]
    public_prev = None if previous is None else previous.loc[~previous["channel_id"].isin(hidden)]
    lines.sort(key=lambda c: (-c.counts["critical"], -c.counts["high"], -c.counts["medium"]))
    overall = digest_content(
        inputs,
        title,
        public,
        kind=kind,
        scope=OVERALL,
        label=title,
        previous=public_prev,
        people=people,
        trend_freq=trend_freq,
        counted=frame,
        per_channel=tuple(lines),
        hidden_channels_count=len(set(frame["channel_id"]) & hidden),
        compared=compared,
    )
    narrative = narrator(overall, people) if narrator is not None and len(public) else None
    if narrative:
        overall = replace(overall, summary_sentences=narrative, summary_source="llm")
    row = _row(inputs, "all channels", frame, overall)
    row["markdown"] = render_markdown(overall)
    row["opted_out_channels"] = json.dumps(opted_out)
    rows.append(row)
    return pd.DataFrame(rows), overall, contents


def build_digest(
    inputs: DigestInputs, title: str, *, kind: str = "hourly", trend_freq: str | None = None
) -> pd.DataFrame:
    """Per-channel rows plus one overall row (``channel_id = '*'``)."""
    return build_digests(inputs, title, kind=kind, trend_freq=trend_freq)[0]
