"""Build a window's digests: one per channel and one overall, as table rows and as contents.

:func:`build_digests` reads the window's threads (:mod:`.threads`), marks each risk new,
escalated or ongoing against the previous window, lists what was resolved and the urgent
questions nobody answered, writes the summary (:mod:`.summary`, or the LLM's narrative) and
returns the table rows with the overall :class:`DigestContent` that
:mod:`~digest_pipeline.defs.digest.render` turns into Markdown, Slack Block Kit and HTML.
:func:`build_digest` returns the rows alone.

Audience (:mod:`.audience`): the overall digest (``channel_id = '*'``) goes to a wide audience,
so it quotes no private channel unless that channel is on the allow list; it still *counts*
their messages. A channel with ``[no-digest]`` in its topic or purpose is left out of every row.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import pandas as pd

from digest_pipeline import contract
from digest_pipeline.contract.enumerations import LEVEL_RANK
from digest_pipeline.defs.digest.audience import (
    NO_DIGEST_MARKER,
    audience_filter,
    hidden_channels,
    opted_out_channels,
)
from digest_pipeline.defs.digest.models import (
    ChannelLine,
    DigestContent,
    SummarySentence,
    ThreadRisk,
)
from digest_pipeline.defs.digest.render import render_markdown
from digest_pipeline.defs.digest.summary import extractive_summary
from digest_pipeline.defs.digest.threads import (
    DIGEST_INPUT_COLUMNS,
    OPTIONAL_INPUT_COLUMNS,
    level_counts,
    level_rank,
    normalize_inputs,
    quote,
    resolved_threads,
    thread_ids,
    thread_risks,
    unanswered_questions,
)
from digest_pipeline.defs.slack.people import PeopleDirectory, Person

# The digest's public names; the assets, sensors, quality checks and the narrative import them
# from here, including those whose home is :mod:`.threads` or :mod:`.audience`.
__all__ = [
    "DIGEST_INPUT_COLUMNS",
    "NO_DIGEST_MARKER",
    "OPTIONAL_INPUT_COLUMNS",
    "OVERALL",
    "DigestInputs",
    "Narrator",
    "build_digest",
    "build_digests",
    "digest_content",
    "hidden_channels",
    "opted_out_channels",
    "quote",
    "resolved_threads",
    "thread_ids",
    "thread_risks",
]

OVERALL = "*"
TOP_RISKS = 10


@dataclass(frozen=True)
class DigestInputs:
    window_start: datetime
    window_end: datetime
    frame: pd.DataFrame  # DIGEST_INPUT_COLUMNS (+ OPTIONAL_INPUT_COLUMNS)
    channels: pd.DataFrame  # slack_channels
    previous: pd.DataFrame | None = None  # the previous window's rows, for new/escalated/resolved
    users: pd.DataFrame | None = None  # slack_users, for owners' names and roles
    private_allow: frozenset[str] = frozenset()  # private channels (IDs or names) quotable overall


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
        # The ignores: pandas types Timestamp(x) as maybe NaT; a datetime never is.
        pd.Timestamp(start).tz_convert("UTC").floor(freq),  # pyright: ignore[reportCallIssue]
        pd.Timestamp(end).tz_convert("UTC"),  # pyright: ignore[reportCallIssue]
        freq=freq,
        inclusive="left",
    )
    counts: dict[pd.Timestamp, int] = {}
    if not frame.empty:
        risky = frame.loc[frame["risk_level"].map(level_rank).fillna(0) >= LEVEL_RANK["medium"]]
        counted = pd.to_datetime(risky["timestamp"], utc=True).dt.floor(freq).value_counts()
        counts = {ts: int(n) for ts, n in counted.items()}
    zone = getattr(start, "tzinfo", None)
    return [
        (ts.tz_convert(zone).strftime(fmt) if zone else ts.strftime(fmt), counts.get(ts, 0))
        for ts in buckets
    ]


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


# Each JSON list of a digest row keeps at most this many threads, highest-ranked first (the
# counts columns count them all): a runaway hour with thousands of risky threads would otherwise
# write megabytes a row and hold them in memory to write and check them. Declared with the
# digest tables, whose column descriptions state it.
ROW_LIST_LIMIT: int = contract.constant("row_list_limit")


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
        "new_risks": _dumps(c.new[:ROW_LIST_LIMIT]),
        "escalated_risks": _dumps(c.escalated[:ROW_LIST_LIMIT]),
        "resolved_risks": _dumps(c.resolved[:ROW_LIST_LIMIT]),
        "action_items": _dumps(c.actions[:ROW_LIST_LIMIT]),
        "unanswered_questions": _dumps(c.questions[:ROW_LIST_LIMIT]),
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
    people = PeopleDirectory.from_users(inputs.users)
    hidden = hidden_channels(inputs.channels, inputs.private_allow)
    # An empty previous window is one never extracted (or entirely silent): no comparison, so
    # nothing is called "new" just because the warehouse starts today.
    compared = previous is not None
    rows: list[dict[str, Any]] = []
    contents: dict[str, DigestContent] = {}
    lines: list[ChannelLine] = []
    # The ignore: pandas types a group's key as Hashable; with two keys it is a pair.
    for (channel_id, channel), group in frame.groupby(  # pyright: ignore[reportGeneralTypeIssues]
        ["channel_id", "channel"], sort=True
    ):
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
    # The ignore: isin takes a set; pandas' annotation omits it.
    public = frame.loc[~frame["channel_id"].isin(hidden)]  # pyright: ignore[reportArgumentType]
    public_prev = None
    if previous is not None:
        # The ignore: isin takes a set; pandas' annotation omits it.
        public_prev = previous.loc[~previous["channel_id"].isin(hidden)]  # pyright: ignore[reportArgumentType]
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
