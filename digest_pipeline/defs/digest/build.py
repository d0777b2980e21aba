"""Pure digest logic: rank risks by thread, compare windows, render Markdown.

Input is one row per message joined with its assessment (see :data:`DIGEST_INPUT_COLUMNS`).
A thread is one risk: its line cites the thread's most severe message, so a 40-reply escalation
shows once, with the worst thing said in it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd

from digest_pipeline.defs.enrichment.taxonomy import CATEGORY_LABELS, LEVEL_RANK, LEVELS

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
OVERALL = "*"
TOP_RISKS = 10
NO_DIGEST_MARKER = "[no-digest]"
_RESOLVED = re.compile(
    r"\b(resolved|fixed|back up|back online|passed|cleared|released|closed|recovered|"
    r"no longer|all good|under control|false alarm)\b",
    re.IGNORECASE,
)
_ICON = {"critical": "🔴", "high": "🟠", "medium": "🟡", "low": "⚪"}


@dataclass(frozen=True)
class ThreadRisk:
    thread_id: str
    level: str
    message_id: str
    channel_id: str
    channel: str
    user: str
    timestamp: datetime
    description: str
    category: str
    permalink: str
    requires_attention: bool
    confidence: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "thread_id": self.thread_id,
            "risk_level": self.level,
            "message_id": self.message_id,
            "channel_id": self.channel_id,
            "channel": self.channel,
            "user": self.user,
            "timestamp": self.timestamp.isoformat(),
            "description": self.description,
            "risk_category": self.category,
            "permalink": self.permalink,
            "requires_attention": self.requires_attention,
        }


def thread_ids(frame: pd.DataFrame) -> pd.Series:
    replies = frame["is_reply"].fillna(False).astype(bool) & frame["parent_id"].notna()
    return frame["parent_id"].where(replies, frame["id"])


def thread_risks(frame: pd.DataFrame) -> list[ThreadRisk]:
    """One entry per thread with a medium-or-worse message, ranked most severe first."""
    if frame.empty:
        return []
    work = frame.assign(
        thread_id=thread_ids(frame),
        rank=frame["risk_level"].map(LEVEL_RANK).fillna(0).astype(int),
        attention=frame["requires_attention"].fillna(False).astype(bool),
        confidence=frame["confidence_score"].fillna(0.0).astype(float),
    )
    work = work.loc[work["rank"] >= LEVEL_RANK["medium"]]
    if work.empty:
        return []
    work = work.sort_values(
        ["rank", "attention", "confidence", "timestamp"], ascending=[False, False, False, False]
    ).drop_duplicates("thread_id")
    return [
        ThreadRisk(
            thread_id=row.thread_id,
            level=row.risk_level,
            message_id=row.id,
            channel_id=row.channel_id,
            channel=row.channel,
            user=row.user,
            timestamp=row.timestamp,
            description=row.description,
            category=row.risk_category,
            permalink=row.permalink,
            requires_attention=bool(row.attention),
            confidence=float(row.confidence),
        )
        for row in work.itertuples(index=False)
    ]


def resolved_threads(frame: pd.DataFrame, earlier_risky: set[str]) -> list[dict[str, Any]]:
    """Threads that were risky and whose latest message says the problem is over."""
    if frame.empty:
        return []
    work = frame.assign(thread_id=thread_ids(frame)).sort_values("timestamp")
    risky_here = {
        r.thread_id
        for r in work.itertuples(index=False)
        if LEVEL_RANK.get(r.risk_level, 0) >= LEVEL_RANK["medium"]
    }
    out = []
    for thread_id, group in work.groupby("thread_id", sort=False):
        last = group.iloc[-1]
        was_risky = thread_id in earlier_risky or (
            thread_id in risky_here and len(group) > 1 and last["risk_level"] == "low"
        )
        if was_risky and last["risk_level"] == "low" and _RESOLVED.search(str(last["content"])):
            out.append(
                {
                    "thread_id": thread_id,
                    "message_id": last["id"],
                    "channel": last["channel"],
                    "permalink": last["permalink"],
                    "text": str(last["content"])[:160],
                }
            )
    return out


def level_counts(frame: pd.DataFrame) -> dict[str, int]:
    counts = frame["risk_level"].value_counts().to_dict() if len(frame) else {}
    return {level: int(counts.get(level, 0)) for level in LEVELS}


@dataclass(frozen=True)
class DigestInputs:
    window_start: datetime
    window_end: datetime
    frame: pd.DataFrame  # DIGEST_INPUT_COLUMNS
    channels: pd.DataFrame  # slack_channels
    previous: pd.DataFrame | None = None  # the previous window's rows, for new/escalated/resolved


def audience_filter(frame: pd.DataFrame, channels: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Drop channels that opted out with ``[no-digest]`` in their topic or purpose."""
    if channels.empty or frame.empty:
        return frame, []
    text = (channels["topic"].fillna("") + " " + channels["purpose"].fillna("")).str.lower()
    opted_out = set(channels.loc[text.str.contains(NO_DIGEST_MARKER, regex=False), "channel_id"])
    return frame.loc[~frame["channel_id"].isin(opted_out)], sorted(opted_out)


def _private(channels: pd.DataFrame) -> set[str]:
    if channels.empty:
        return set()
    return set(channels.loc[channels["is_private"].astype(bool), "channel_id"])


def _summary(title: str, counts: Mapping[str, int], messages: int, risks: list[ThreadRisk]) -> str:
    serious = counts["critical"] + counts["high"]
    if messages == 0:
        return f"{title}: no messages."
    head = f"{title}: {messages} messages, {serious} high/critical and {counts['medium']} medium."
    if not risks:
        return head + " Nothing needs attention."
    top = risks[0]
    return f"{head} Top risk ({top.level}) in #{top.channel}: {top.description}"


def render_markdown(
    title: str,
    counts: Mapping[str, int],
    messages: int,
    threads: int,
    risks: list[ThreadRisk],
    *,
    per_channel: list[dict[str, Any]] | None = None,
    new: list[ThreadRisk] | None = None,
    escalated: list[ThreadRisk] | None = None,
    resolved: list[dict[str, Any]] | None = None,
    trend: list[tuple[str, int]] | None = None,
) -> str:
    lines = [f"# {title}", ""]
    lines.append(
        f"**{messages}** messages in **{threads}** threads · "
        + " · ".join(f"{_ICON[lv]} {counts[lv]} {lv}" for lv in reversed(LEVELS))
    )
    lines.append("")
    if risks:
        lines += [
            "## Top risks",
            "",
            "| level | channel | risk | who | link |",
            "|---|---|---|---|---|",
        ]
        for r in risks[:TOP_RISKS]:
            desc = r.description.replace("|", "/")
            lines.append(
                f"| {_ICON[r.level]} {r.level} | #{r.channel} | {desc} "
                f"({CATEGORY_LABELS.get(r.category, r.category)}) | {r.user} | "
                f"[message]({r.permalink}) |"
            )
        lines.append("")
    else:
        lines += ["No medium or higher risks in this window.", ""]
    for heading, items in (("New risks", new), ("Escalated", escalated)):
        if items:
            lines += [f"## {heading}", ""]
            lines += [
                f"- {_ICON[r.level]} #{r.channel}: {r.description} ([message]({r.permalink}))"
                for r in items[:TOP_RISKS]
            ]
            lines.append("")
    if resolved:
        lines += ["## Resolved", ""]
        lines += [f"- #{r['channel']}: {r['text']} ([message]({r['permalink']}))" for r in resolved]
        lines.append("")
    actions = [r for r in risks if r.requires_attention]
    if actions:
        lines += ["## Action items", ""]
        lines += [
            f"- [ ] {r.description} — #{r.channel}, raised by {r.user} ([message]({r.permalink}))"
            for r in actions[:TOP_RISKS]
        ]
        lines.append("")
    if trend:
        peak = max((n for _, n in trend), default=0) or 1
        lines += ["## Medium+ risks by hour", "", "```"]
        lines += [f"{label} {'█' * round(20 * n / peak):<20} {n}" for label, n in trend]
        lines += ["```", ""]
    if per_channel:
        lines += [
            "## By channel",
            "",
            "| channel | messages | 🔴 | 🟠 | 🟡 |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| #{c['channel']} | {c['message_count']} | {c['critical_count']} | "
            f"{c['high_count']} | {c['medium_count']} |"
            for c in per_channel
        ]
        lines.append("")
    return "\n".join(lines)


def _row(
    inputs: DigestInputs,
    channel_id: str,
    channel: str,
    frame: pd.DataFrame,
    risks: list[ThreadRisk],
    summary_title: str,
    markdown: str,
) -> dict[str, Any]:
    counts = level_counts(frame)
    return {
        "window_start": inputs.window_start,
        "window_end": inputs.window_end,
        "channel_id": channel_id,
        "channel": channel,
        "message_count": len(frame),
        "thread_count": int(thread_ids(frame).nunique()) if len(frame) else 0,
        "low_count": counts["low"],
        "medium_count": counts["medium"],
        "high_count": counts["high"],
        "critical_count": counts["critical"],
        "attention_count": sum(r.requires_attention for r in risks),
        "top_risks": json.dumps([r.as_dict() for r in risks[:TOP_RISKS]], ensure_ascii=False),
        "summary": _summary(summary_title, counts, len(frame), risks),
        "markdown": markdown,
    }


def build_digest(
    inputs: DigestInputs, title: str, *, trend_freq: str | None = None
) -> pd.DataFrame:
    """Per-channel rows plus one overall row (``channel_id = '*'``)."""
    frame, opted_out = audience_filter(inputs.frame, inputs.channels)
    private = _private(inputs.channels)
    rows: list[dict[str, Any]] = []
    per_channel: list[dict[str, Any]] = []
    for (channel_id, channel), group in frame.groupby(["channel_id", "channel"], sort=True):
        risks = thread_risks(group)
        md = render_markdown(
            f"{title} — #{channel}",
            level_counts(group),
            len(group),
            int(thread_ids(group).nunique()),
            risks,
        )
        row = _row(inputs, channel_id, channel, group, risks, f"#{channel}", md)
        rows.append(row)
        per_channel.append(row)
    # The overall digest goes to a wide audience: it never quotes private channels.
    public = frame.loc[~frame["channel_id"].isin(private)]
    risks = thread_risks(public)
    previous = inputs.previous
    new, escalated, resolved = _changes(public, risks, previous)
    trend = _trend(public, trend_freq) if trend_freq else None
    counts = level_counts(frame)
    md = render_markdown(
        title,
        counts,
        len(frame),
        int(thread_ids(frame).nunique()) if len(frame) else 0,
        risks,
        per_channel=sorted(per_channel, key=lambda c: -c["critical_count"] * 100 - c["high_count"]),
        new=new,
        escalated=escalated,
        resolved=resolved,
        trend=trend,
    )
    overall = _row(inputs, OVERALL, "all channels", frame, risks, title, md)
    overall["top_risks"] = json.dumps([r.as_dict() for r in risks[:TOP_RISKS]], ensure_ascii=False)
    overall["new_risks"] = json.dumps([r.as_dict() for r in new], ensure_ascii=False)
    overall["escalated_risks"] = json.dumps([r.as_dict() for r in escalated], ensure_ascii=False)
    overall["resolved_risks"] = json.dumps(resolved, ensure_ascii=False)
    overall["action_items"] = json.dumps(
        [r.as_dict() for r in risks if r.requires_attention], ensure_ascii=False
    )
    overall["opted_out_channels"] = json.dumps(opted_out)
    for row in rows:
        channel_frame = frame.loc[frame["channel_id"] == row["channel_id"]]
        channel_risks = thread_risks(channel_frame)
        prev = (
            None if previous is None else previous.loc[previous["channel_id"] == row["channel_id"]]
        )
        c_new, c_esc, c_res = _changes(channel_frame, channel_risks, prev)
        row["new_risks"] = json.dumps([r.as_dict() for r in c_new], ensure_ascii=False)
        row["escalated_risks"] = json.dumps([r.as_dict() for r in c_esc], ensure_ascii=False)
        row["resolved_risks"] = json.dumps(c_res, ensure_ascii=False)
        row["action_items"] = json.dumps(
            [r.as_dict() for r in channel_risks if r.requires_attention], ensure_ascii=False
        )
        row["opted_out_channels"] = "[]"
    return pd.DataFrame([*rows, overall])


def _changes(
    frame: pd.DataFrame, risks: list[ThreadRisk], previous: pd.DataFrame | None
) -> tuple[list[ThreadRisk], list[ThreadRisk], list[dict[str, Any]]]:
    before = {r.thread_id: r.level for r in thread_risks(previous)} if previous is not None else {}
    new = [r for r in risks if r.thread_id not in before]
    escalated = [
        r
        for r in risks
        if r.thread_id in before and LEVEL_RANK[r.level] > LEVEL_RANK[before[r.thread_id]]
    ]
    return new, escalated, resolved_threads(frame, set(before))


def _trend(frame: pd.DataFrame, freq: str) -> list[tuple[str, int]]:
    if frame.empty:
        return []
    risky = frame.loc[frame["risk_level"].map(LEVEL_RANK).fillna(0) >= LEVEL_RANK["medium"]]
    buckets = pd.to_datetime(risky["timestamp"], utc=True).dt.floor(freq).value_counts()
    return [(ts.strftime("%H:%M"), int(n)) for ts, n in sorted(buckets.items())]
