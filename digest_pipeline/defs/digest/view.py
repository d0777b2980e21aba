"""A digest as its readers see it, decided once: the view model the three formatters draw.

:func:`digest_view` turns a :class:`~digest_pipeline.defs.digest.models.DigestContent` into a
:class:`DigestView` — what the digest opens with (summary, headline), its sections of lines
(act on these, other risks, resolved, urgent questions, trend, channels), and in each line its
level, text, figures, owners and evidence links. The formatters
(:mod:`.format_markdown`, :mod:`.format_slack`, :mod:`.format_html`) only lay it out: which
risks share a line, what a line says and in which order is decided here.

Text in the view is plain and untrusted (it comes from Slack or an LLM): every formatter passes
it through its function of :mod:`.escape`. The exception is :class:`Span`, the headline's
parts, which are the digest's own words and figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from digest_pipeline.defs.digest.grouping import RiskGroup, focus, others
from digest_pipeline.defs.digest.models import ChannelLine, DigestContent, Question

ICON = {"critical": "🔴", "high": "🟠", "medium": "🟡", "low": "⚪"}
SHOWN_LEVELS = ("critical", "high", "medium")
EVIDENCE_LINKS = 3  # source links a line shows; the rest are counted
ALSO_LINKS = 5  # the other threads of a line, linked by channel
LISTED_OTHERS = 400  # the compact list's bound in files (a runaway day); the rest are counted
SUMMARY_NOTE = "AI-written summary of the items below; each sentence links to its sources."


@dataclass(frozen=True)
class Link:
    """A link to a message (its permalink) and the label to show for it."""

    url: str
    label: str


@dataclass(frozen=True)
class Span:
    """Part of the headline: the digest's own words or a figure (``strong``)."""

    text: str
    strong: bool = False


@dataclass(frozen=True)
class SummaryLine:
    """One summary sentence and its citations, numbered across the summary."""

    text: str
    cites: tuple[Link, ...]


@dataclass(frozen=True)
class LevelCount:
    """Risk threads at one level, and how many of them are new or escalated."""

    level: str
    icon: str
    threads: int
    new: int
    escalated: int


@dataclass(frozen=True)
class RiskLine:
    """One issue: one thread, or threads that are the same issue (see :mod:`.grouping`)."""

    level: str
    icon: str
    title: str  # the issue, in the words of its description
    link: str  # the message that raised it (its most severe thread)
    quote: str
    update: Link | None  # a later, more severe message: its label names the level it rose to
    update_quote: str
    at_stake: str  # the figures: "$340k, 12k units"; "" when none is stated
    where: str
    owner: str  # "raised by Name, role; asked: Name, role"
    status: str  # "new", "ongoing", "↑ from high"; "" unknown
    evidence: tuple[Link, ...]  # the first threads' messages, labelled 1, 2, 3
    more_evidence: int  # threads beyond those
    also: tuple[Link, ...]  # the other threads, labelled by channel


@dataclass(frozen=True)
class ResolvedLine:
    """A risky thread a message closed, and the risk it was ("" when not known)."""

    channel: str
    user: str
    link: str
    text: str
    issue: str
    level: str


@dataclass(frozen=True)
class QuestionLine:
    """An urgent question nobody answered; ``at`` is its time in the digest's time zone."""

    channel: str
    user: str
    at: str
    why: str
    quote: str
    link: str


@dataclass(frozen=True)
class DigestView:
    title: str
    notification: str  # plain text a notification shows: the summary, else the title
    summary: tuple[SummaryLine, ...]
    summary_by_llm: bool
    headline: tuple[tuple[Span, ...], ...]  # counts, then risk threads by level and change
    levels: tuple[LevelCount, ...]  # critical, high, medium
    has_messages: bool
    compared: bool  # a previous window to call risks new, escalated or ongoing against
    act_on: tuple[RiskLine, ...]
    act_on_threads: int  # threads on the act-on lines
    risk_threads: int  # every medium+ thread
    others: tuple[RiskLine, ...]  # every medium+ thread not on the act-on lines
    left_out: int  # threads not on the act-on lines
    resolved: tuple[ResolvedLine, ...]
    questions: tuple[QuestionLine, ...]
    trend: tuple[tuple[str, int], ...]  # (hour, medium+ messages)
    trend_zone: str
    channels: tuple[ChannelLine, ...]

    @property
    def has_trend(self) -> bool:
        return any(n for _, n in self.trend)


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _summary(content: DigestContent) -> tuple[SummaryLine, ...]:
    """The sentences a digest opens with — all of a narrative; of an extractive summary the ones
    citing messages (its counts are in the headline) — with their sources numbered across the
    summary; a message cited twice keeps its first number."""
    shown = (
        content.summary_sentences
        if content.summary_source == "llm"
        else [s for s in content.summary_sentences if s.sources]
    )
    numbers: dict[str, int] = {}
    lines = []
    for sentence in shown:
        cites = []
        for c in sentence.sources:
            number = numbers.setdefault(c.message_id, len(numbers) + 1)
            cites.append(Link(c.permalink, f"[{number}]"))
        lines.append(SummaryLine(sentence.text, tuple(cites)))
    return tuple(lines)


def _headline(content: DigestContent) -> tuple[tuple[Span, ...], ...]:
    counts = content.threads_by_level
    channels = content.channel_count
    first = [
        Span(f"{content.message_count:,}", strong=True),
        Span(" messages · "),
        Span(f"{content.thread_count:,}", strong=True),
        Span(" threads · "),
        Span(f"{channels}", strong=True),
        Span(f" channel{'s' if channels != 1 else ''}"),
    ]
    if content.hidden_messages:
        hidden = content.hidden_channels
        first.append(
            Span(
                f" (incl. {content.hidden_messages:,} messages in {hidden} private "
                f"channel{'s' if hidden != 1 else ''}: counted, not quoted)"
            )
        )
    second = [Span("Risk threads: ")]
    for i, level in enumerate(SHOWN_LEVELS):
        sep = " · " if i else ""
        second += [Span(f"{sep}{ICON[level]} "), Span(str(counts[level]), strong=True)]
        second.append(Span(f" {level}"))
    before = "day before" if content.kind == "daily" else "hour before"
    if content.has_previous:
        changes = (
            (len(content.new), " new, "),
            (len(content.escalated), " escalated, "),
            (len(content.resolved), f" resolved since the {before}"),
        )
        second.append(Span(" — "))
        for n, words in changes:
            second += [Span(str(n), strong=True), Span(words)]
    else:
        second.append(Span(f" — no data for the {before}, so no new/escalated comparison"))
    return (tuple(first), tuple(second))


def _levels(content: DigestContent) -> tuple[LevelCount, ...]:
    counts = content.threads_by_level
    return tuple(
        LevelCount(
            level,
            ICON[level],
            counts[level],
            sum(1 for r in content.new if r.level == level),
            sum(1 for r in content.escalated if r.level == level),
        )
        for level in SHOWN_LEVELS
    )


def _status_text(status: str) -> str:
    return "↑ " + status.removeprefix("escalated ") if status.startswith("escalated") else status


def _risk_line(group: RiskGroup) -> RiskLine:
    first = group.first
    update = None
    if first.update_quote:
        update = Link(first.update_permalink, f"update ({first.update_level})")
    return RiskLine(
        level=group.level,
        icon=ICON[group.level],
        title=group.description,
        link=first.permalink,
        quote=first.quote,
        update=update,
        update_quote=first.update_quote,
        at_stake=", ".join(group.facts),
        where=group.where,
        owner=group.owner,
        status=_status_text(group.status),
        evidence=tuple(
            Link(r.permalink, str(i)) for i, r in enumerate(group.risks[:EVIDENCE_LINKS], start=1)
        ),
        more_evidence=max(0, len(group.risks) - EVIDENCE_LINKS),
        also=tuple(Link(r.permalink, f"#{r.channel}") for r in group.risks[1 : 1 + ALSO_LINKS]),
    )


def _resolved_line(item: dict[str, Any]) -> ResolvedLine:
    issue = item.get("description")
    return ResolvedLine(
        channel=str(item["channel"]),
        user=str(item["user"]),
        link=str(item["permalink"]),
        text=str(item["text"]),
        issue=str(issue) if issue else "",
        level=str(item.get("risk_level")),
    )


def _local(moment: datetime, content: DigestContent) -> str:
    zone = content.window_start.tzinfo
    local = moment.astimezone(zone) if zone is not None else moment
    return f"{local:%H:%M} {local.tzname() or ''}".strip()


def _question_line(q: Question, content: DigestContent) -> QuestionLine:
    at = _local(q.timestamp, content)
    return QuestionLine(q.channel, q.user, at, q.why, q.quote, q.permalink)


def digest_view(content: DigestContent) -> DigestView:
    """What the digest shows, in order, for every format."""
    groups, left_out = focus(content)
    return DigestView(
        title=content.title,
        notification=content.summary or content.title,
        summary=_summary(content),
        summary_by_llm=content.summary_source == "llm",
        headline=_headline(content),
        levels=_levels(content),
        has_messages=content.message_count > 0,
        compared=content.has_previous,
        act_on=tuple(_risk_line(g) for g in groups),
        act_on_threads=sum(len(g.risks) for g in groups),
        risk_threads=len(content.risks),
        others=tuple(_risk_line(g) for g in others(content, groups)),
        left_out=left_out,
        resolved=tuple(_resolved_line(r) for r in content.resolved),
        questions=tuple(_question_line(q, content) for q in content.questions),
        trend=content.trend,
        trend_zone=content.window_start.tzname() or "",
        channels=content.per_channel,
    )
