"""Render a :class:`~digest_pipeline.defs.digest.build.DigestContent`: Markdown (the table and the
Dagster UI), Slack Block Kit (delivery) and a standalone HTML page (files).

Every renderer lists each risk once. Threads share a line only when they are one issue: the same
level, category, kind of issue and subject (the same part, lot, lab or customer), so different
root causes never share a heading. What a reader acts on comes first: at most
:data:`SHOWN_GROUPS` lines ranked by level and business impact, each with what is at stake, who
raised it, and status (new, escalated, ongoing); then every other medium+ thread in a compact
list (Markdown and HTML; the Slack post puts them in its thread); then what was resolved, the
urgent questions nobody answered, the trend and the per-channel table.

Slack limits respected by :func:`render_blocks` (https://api.slack.com/reference/block-kit):
at most 50 blocks a message, 3,000 characters in a section's text, 150 in a header, 10 elements
in a context block; the fallback ``text`` stays far below the 40,000 characters Slack accepts.
Details that do not fit the top-level post go to a reply in its thread.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from digest_pipeline.defs.digest.escape import (
    html_link,
    markdown,
    markdown_link,
    mrkdwn,
    mrkdwn_link,
    safe_url,
)
from digest_pipeline.defs.digest.models import DigestContent, SummarySentence, ThreadRisk
from digest_pipeline.defs.enrichment.taxonomy import LEVELS

ICON = {"critical": "🔴", "high": "🟠", "medium": "🟡", "low": "⚪"}
SHOWN_GROUPS = 10  # lines in "Act on these"; every other medium+ thread is listed below it
LISTED_OTHERS = 400  # the compact list's bound (a runaway day); the rest are counted
ACT_MIN_IMPACT = 2.0  # a medium thread with this much at stake is a candidate to act on
SHOWN_RESOLVED = 5
SHOWN_QUESTIONS = 5
MAX_BLOCKS = 50
MAX_SECTION_CHARS = 3000
MAX_HEADER_CHARS = 150
MAX_CONTEXT_ELEMENTS = 10
MAX_TEXT_CHARS = 3000  # the notification fallback; Slack truncates past 40,000
BAR_WIDTH = 20


@dataclass(frozen=True)
class RiskGroup:
    """One issue: threads of the same level and kind of issue, most severe thread first."""

    level: str
    description: str
    category: str
    risks: tuple[ThreadRisk, ...]

    @property
    def first(self) -> ThreadRisk:
        return self.risks[0]

    @property
    def kind(self) -> str:
        """The kind of issue, as written: "Lead time jump" for "Lead time jump on A, B"."""
        return _kind(self.description)

    @property
    def channels(self) -> list[str]:
        return list(dict.fromkeys(r.channel for r in self.risks))

    @property
    def status(self) -> str:
        statuses = {r.status for r in self.risks} - {""}
        if not statuses:
            return ""
        if "escalated" in statuses:
            prev = next(r.previous_level for r in self.risks if r.status == "escalated")
            return f"escalated from {prev}"
        if "new" in statuses:
            return "new"
        return "ongoing"

    @property
    def asked(self) -> str:
        """``Name, role`` of whoever was @-mentioned in the quoted thread (not another one)."""
        return self.first.asked

    @property
    def raised(self) -> str:
        """``Name, role`` of everyone who raised one of the threads, in ranking order."""
        names = list(dict.fromkeys(r.raised_by for r in self.risks if r.raised_by))
        return "; ".join(names[:SHOWN_SUBJECTS]) + (
            f" and {len(names) - SHOWN_SUBJECTS} more" if len(names) > SHOWN_SUBJECTS else ""
        )

    @property
    def owner(self) -> str:
        """``raised by Name, role`` (everyone, for a group), and who was asked in the thread."""
        parts = [f"raised by {self.raised}"] if self.raised else []
        if self.asked and self.asked != self.raised:
            parts.append(f"asked: {self.asked}")
        return "; ".join(parts)

    @property
    def facts(self) -> list[str]:
        """What is at stake, across the group's threads: "$340k", "12k units", "stopped"."""
        return list(dict.fromkeys(f for r in self.risks for f in r.facts))


_SUBJECT = re.compile(r"^(?P<stem>.+?) on (?P<subject>.+)$")
_DETAIL = re.compile(r"^(?P<stem>[^(]+?) \((?P<detail>[^()]+)\)$")
SHOWN_SUBJECTS = 3


def _kind(description: str) -> str:
    """What kind of issue a description names: "Lead time jump on X (52 wk)" and "Date moved out
    (WW33→WW37)" are of the kinds "Lead time jump" and "Date moved out". A one-word head
    ("Impact on launch date", "Delay (2 days)") names no kind: the description stands alone."""
    text = description.strip()
    match = _SUBJECT.match(text) or _DETAIL.match(text)
    stem = match["stem"].strip() if match else text
    return stem if len(stem.split()) > 1 else text


def _listed(items: Sequence[str], sep: str) -> str:
    more = len(items) - SHOWN_SUBJECTS
    return sep.join(items[:SHOWN_SUBJECTS]) + (f" and {more} more" if more > 0 else "")


def _merged_description(risks: Sequence[ThreadRisk]) -> str:
    """One description for threads of one kind, subjects in ranking order: "Lead time jump on
    A (52 wk), B (44 wk) and 2 more"; "Date moved out (WW33→WW37; WW11→WW16)"."""
    descriptions = list(dict.fromkeys(r.description.strip() for r in risks))
    if len(descriptions) == 1:
        return descriptions[0]
    subjects = [m for m in (_SUBJECT.match(d) for d in descriptions) if m]
    if subjects:
        names = list(dict.fromkeys(m["subject"] for m in subjects))
        return f"{subjects[0]['stem']} on {_listed(names, ', ')}"
    details = [m for m in (_DETAIL.match(d) for d in descriptions) if m]
    if details:
        names = list(dict.fromkeys(m["detail"] for m in details))
        return f"{details[0]['stem']} ({_listed(names, '; ')})"
    return descriptions[0]


def _subject(risk: ThreadRisk) -> str:
    """What the risk is about, when its description names it ("... on MT25QL256ABA"): threads
    are one issue only with the same subject. Without one, the thread stands alone."""
    text = risk.description.strip()
    match = _SUBJECT.match(text)
    if match is None or _kind(text) == text:  # no subject, or a one-word head ("Impact on X")
        return f"thread:{risk.thread_id}"
    return re.sub(r"\s*\([^()]*\)$", "", match["subject"]).strip().lower()


def group_risks(risks: Sequence[ThreadRisk]) -> list[RiskGroup]:
    """Group threads that are one issue: the same level, category, kind of issue and subject
    (one part's allocation raised in two channels), keeping the ranking of each group's best
    thread. Different causes or subjects never share a line."""
    groups: dict[tuple[str, str, str, str], list[ThreadRisk]] = {}
    for r in risks:
        key = (r.level, str(r.category), _kind(r.description).lower(), _subject(r))
        groups.setdefault(key, []).append(r)
    return [
        RiskGroup(items[0].level, _merged_description(items), items[0].category, tuple(items))
        for items in groups.values()
    ]


def to_act_on(risk: ThreadRisk) -> bool:
    """A candidate for "Act on these": someone must act, it is high or worse, or a medium risk
    with much at stake (a stop, safety, six-figure money)."""
    return (
        risk.requires_attention
        or risk.level in ("high", "critical")
        or (risk.impact >= ACT_MIN_IMPACT)
    )


def focus(content: DigestContent) -> tuple[list[RiskGroup], int]:
    """The "Act on these" lines (at most :data:`SHOWN_GROUPS`, by level and impact) and how
    many risk threads are not on them."""
    groups = group_risks([r for r in content.risks if to_act_on(r)] or list(content.risks))
    shown = groups[:SHOWN_GROUPS]
    hidden = len(content.risks) - sum(len(g.risks) for g in shown)
    return shown, hidden


def others(content: DigestContent, shown: Sequence[RiskGroup]) -> list[RiskGroup]:
    """Every medium+ risk not on the "Act on these" lines, grouped, in ranking order."""
    shown_ids = {r.thread_id for g in shown for r in g.risks}
    return group_risks([r for r in content.risks if r.thread_id not in shown_ids])


def bar_chart(series: Sequence[tuple[str, int]], width: int = BAR_WIDTH) -> list[str]:
    """Unicode bars, one line per (label, value); zero shows as an empty bar."""
    if not series:
        return []
    peak = max(n for _, n in series) or 1
    label_width = max(len(label) for label, _ in series)
    return [
        f"{label:<{label_width}} {'█' * round(width * n / peak):<{width}} {n}"
        for label, n in series
    ]


_SPARKS = " ▁▂▃▄▅▆▇█"


def sparkline(series: Sequence[tuple[str, int]]) -> str:
    """One character per bucket: a day's trend on one line."""
    peak = max((n for _, n in series), default=0) or 1
    return "".join(_SPARKS[0 if n == 0 else max(1, round(8 * n / peak))] for _, n in series)


def trend_line(content: DigestContent) -> str:
    series = content.trend
    total = sum(n for _, n in series)
    label, peak = max(series, key=lambda item: item[1])
    zone = content.window_start.tzname() or ""
    return (
        f"Medium+ messages per hour, {series[0][0]} to {series[-1][0]} {zone}: "
        f"`{sparkline(series)}` — {total} in all, peak {peak} at {label}"
    )


def summary_shown(content: DigestContent) -> list[SummarySentence]:
    """The summary sentences a rendered digest opens with: all of a narrative; of an extractive
    summary the ones citing messages (its counts are in the headline just below)."""
    if content.summary_source == "llm":
        return list(content.summary_sentences)
    return [s for s in content.summary_sentences if s.sources]


def numbered_summary(content: DigestContent) -> list[tuple[str, list[tuple[int, str]]]]:
    """Each shown summary sentence with its sources as (number, permalink); numbers run across
    the summary, and a message cited twice keeps its first number."""
    numbers: dict[str, int] = {}
    out = []
    for sentence in summary_shown(content):
        cites = []
        for c in sentence.sources:
            number = numbers.setdefault(c.message_id, len(numbers) + 1)
            cites.append((number, c.permalink))
        out.append((sentence.text, cites))
    return out


SUMMARY_NOTE = "AI-written summary of the items below; each sentence links to its sources."


def _cite_md(url: str, number: int) -> str:
    """``[[n]](url)``: our own label, a safe target (else the number alone)."""
    target = safe_url(url)
    return f"[[{number}]]({target})" if target else markdown(f"[{number}]")


def summary_markdown(content: DigestContent) -> str:
    lines = [
        "- " + markdown(text) + "".join(f" {_cite_md(url, n)}" for n, url in cites)
        for text, cites in numbered_summary(content)
    ]
    if content.summary_source == "llm":
        lines.append(f"\n_{SUMMARY_NOTE}_")
    return "\n".join(lines)


def _status_text(status: str) -> str:
    return "↑ " + status.removeprefix("escalated ") if status.startswith("escalated") else status


def headline(content: DigestContent) -> str:
    counts = content.threads_by_level
    text = (
        f"**{content.message_count:,}** messages · **{content.thread_count:,}** threads · "
        f"**{content.channel_count}** channel{'s' if content.channel_count != 1 else ''}"
    )
    if content.hidden_messages:
        text += (
            f" (incl. {content.hidden_messages:,} messages in {content.hidden_channels} private "
            f"channel{'s' if content.hidden_channels != 1 else ''}: counted, not quoted)"
        )
    risk = " · ".join(f"{ICON[lv]} **{counts[lv]}** {lv}" for lv in ("critical", "high", "medium"))
    text += f"\n\nRisk threads: {risk}"
    if content.has_previous:
        text += (
            f" — **{len(content.new)}** new, **{len(content.escalated)}** escalated, "
            f"**{len(content.resolved)}** resolved since the {_previous_word(content)}"
        )
    else:
        text += f" — no data for the {_previous_word(content)}, so no new/escalated comparison"
    return text


def _resolved_what(item: Mapping[str, Any]) -> str:
    if not item.get("description"):
        return ""
    return f"**{markdown(item['description'])}** ({markdown(item.get('risk_level'))}) in "


def _local(moment: Any, content: DigestContent) -> str:
    zone = content.window_start.tzinfo
    local = moment.astimezone(zone) if zone is not None else moment
    return f"{local:%H:%M} {local.tzname() or ''}".strip()


def _previous_word(content: DigestContent) -> str:
    return "day before" if content.kind == "daily" else "hour before"


def _links_md(group: RiskGroup, limit: int = 3) -> str:
    links = [markdown_link(r.permalink, i) for i, r in enumerate(group.risks[:limit], start=1)]
    if len(group.risks) == 1:
        return markdown_link(group.first.permalink, "message")
    more = f" +{len(group.risks) - limit}" if len(group.risks) > limit else ""
    return " ".join(links) + more


def _where(group: RiskGroup) -> str:
    """Where a group's threads are, as plain text: each renderer escapes it for its format."""
    if len(group.risks) == 1:
        return f"#{group.first.channel}"
    return f"{len(group.risks)} threads in " + ", ".join(f"#{c}" for c in group.channels[:4])


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _compact_md(group: RiskGroup) -> str:
    """One line of the compact list: level, description, figures, where, who, links."""
    facts = f" ({markdown(', '.join(group.facts))})" if group.facts else ""
    who = f" · {markdown(group.owner)}" if group.owner else ""
    return (
        f"- {ICON[group.level]} **{markdown(group.description)}**{facts} — "
        f"{markdown(_where(group))}{who} · {_links_md(group)}"
    )


def render_markdown(content: DigestContent) -> str:
    lines = [f"# {markdown(content.title)}", ""]  # per channel, the title holds its name
    if summary_shown(content):
        lines += ["**In short**", "", summary_markdown(content), ""]
    lines += [headline(content), ""]
    if content.message_count == 0:
        lines += ["No messages in this window.", ""]
        return "\n".join(lines)
    groups, left_out = focus(content)
    if groups:
        shown = sum(len(g.risks) for g in groups)
        total = len(content.risks)
        status = content.has_previous
        lines += [
            f"## Act on these — {shown} of {_plural(total, 'risk thread')}, by level and impact",
            "",
            "| | risk (source quote) | at stake | where | who | "
            + ("status | " if status else "")
            + "source |",
            "|---|---|---|---|---|" + ("---|" if status else "") + "---|",
        ]
        for g in groups:
            first = g.first
            quote_text = f" — “{markdown(first.quote)}”" if first.quote else ""
            if first.update_quote:
                quote_text += (
                    f" · ↑ update ({markdown(first.update_level)}): "
                    f"“{markdown(first.update_quote)}” "
                    f"({markdown_link(first.update_permalink, 'message')})"
                )
            lines.append(
                f"| {ICON[g.level]} | **{markdown(g.description)}**{quote_text} | "
                f"{markdown(', '.join(g.facts)) or '—'} | {markdown(_where(g))} | "
                f"{markdown(g.owner) or '—'} | "
                + (f"{_status_text(g.status)} | " if status else "")
                + f"{_links_md(g)} |"
            )
        lines.append("")
        rest = others(content, groups)
        if rest:
            lines += [f"## Other medium+ risk threads ({left_out})", ""]
            lines += [_compact_md(g) for g in rest[:LISTED_OTHERS]]
            if len(rest) > LISTED_OTHERS:
                lines.append(
                    f"- … and {len(rest) - LISTED_OTHERS} more lines: in `risk_assessments`"
                )
            lines.append("")
    else:
        lines += ["No medium or higher risks in this window.", ""]
    if content.resolved:
        lines += ["## Resolved", ""]
        lines += [
            f"- ✅ {_resolved_what(r)}#{markdown(r['channel'])} — {markdown(r['user'])}: "
            f"“{markdown(r['text'])}” ({markdown_link(r['permalink'], 'message')})"
            for r in content.resolved[:SHOWN_RESOLVED]
        ]
        if len(content.resolved) > SHOWN_RESOLVED:
            lines.append(f"- … and {len(content.resolved) - SHOWN_RESOLVED} more")
        lines.append("")
    if content.questions:
        lines += ["## Urgent questions without an answer", ""]
        lines += [
            f"- ❓ #{markdown(q.channel)} — {markdown(q.user)} at {_local(q.timestamp, content)} "
            f"({markdown(q.why)}): “{markdown(q.quote)}” ({markdown_link(q.permalink, 'message')})"
            for q in content.questions[:SHOWN_QUESTIONS]
        ]
        if len(content.questions) > SHOWN_QUESTIONS:
            lines.append(f"- … and {len(content.questions) - SHOWN_QUESTIONS} more")
        lines.append("")
    if content.trend and any(n for _, n in content.trend):
        lines += ["## Trend", "", trend_line(content), ""]
    if content.per_channel:
        lines += [
            "## By channel (risk threads)",
            "",
            "| channel | messages | 🔴 | 🟠 | 🟡 |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| #{markdown(c.channel)} | {c.message_count} | {c.counts['critical']} | "
            f"{c.counts['high']} | {c.counts['medium']} |"
            for c in content.per_channel
        ]
        lines.append("")
    return "\n".join(lines)


def risk_counts_markdown(content: DigestContent) -> str:
    """For the UI's metadata: risk threads per level as a table and a small bar chart."""
    counts = content.threads_by_level
    order = list(reversed(LEVELS))[:-1]  # critical, high, medium
    lines = ["| level | risk threads | new | escalated |", "|---|---|---|---|"]
    for lv in order:
        new = sum(1 for r in content.new if r.level == lv)
        esc = sum(1 for r in content.escalated if r.level == lv)
        lines.append(f"| {ICON[lv]} {lv} | {counts[lv]} | {new} | {esc} |")
    levels = bar_chart([(lv, counts[lv]) for lv in order])
    lines += ["", "Risk threads by level:", "", "```", *levels, "```"]
    if content.trend:
        lines += ["", "Medium+ messages per hour:", "", "```", *bar_chart(content.trend), "```"]
    return "\n".join(lines)


# -- Slack ----------------------------------------------------------------------------------------


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _truncate(text, 3000)}}


def _context(*texts: str) -> dict[str, Any]:
    return {
        "type": "context",
        "elements": [
            {"type": "mrkdwn", "text": _truncate(t, 3000)} for t in texts[:MAX_CONTEXT_ELEMENTS]
        ],
    }


def _group_mrkdwn(group: RiskGroup, with_status: bool) -> str:
    first = group.first
    title = mrkdwn_link(first.permalink, group.description)
    where = (
        f"#{mrkdwn(first.channel)}"
        if len(group.risks) == 1
        else f"{len(group.risks)} threads in "
        + ", ".join(f"#{mrkdwn(c)}" for c in group.channels[:4])
    )
    facts = [mrkdwn(", ".join(group.facts))] if group.facts else []
    facts.append(where)
    if group.owner:
        facts.append(mrkdwn(group.owner))
    if with_status and group.status:
        facts.append(_status_text(group.status))
    text = f"{ICON[group.level]} *{title}*  ·  " + "  ·  ".join(facts)
    if first.quote:
        text += f"\n> {mrkdwn(first.quote)}"
    if first.update_quote:
        text += (
            f"\n↑ {mrkdwn_link(first.update_permalink, f'update ({first.update_level})')}: "
            f"{mrkdwn(first.update_quote)}"
        )
    if len(group.risks) > 1:
        more = [mrkdwn_link(r.permalink, f"#{r.channel}") for r in group.risks[1:6]]
        text += "\nAlso: " + ", ".join(more)
    return text


def summary_mrkdwn(content: DigestContent) -> str:
    lines = [
        "• "
        + mrkdwn(" ".join(text.split()))
        + "".join(f" {mrkdwn_link(url, f'[{n}]')}" for n, url in cites)
        for text, cites in numbered_summary(content)
    ]
    return _truncate("*In short*\n" + "\n".join(lines), MAX_SECTION_CHARS)


def _chunked_sections(title: str, items: Sequence[str]) -> list[dict[str, Any]]:
    """``title`` and bullet ``items`` as sections of at most 3,000 characters each."""
    blocks: list[dict[str, Any]] = []
    current = f"*{title}*"
    for item in items:
        line = "\n• " + _truncate(item, MAX_SECTION_CHARS - len(title) - 10)
        if len(current) + len(line) > MAX_SECTION_CHARS:
            blocks.append(_section(current))
            current = f"*{title} (continued)*"
        current += line
    blocks.append(_section(current))
    return blocks


def _fit(blocks: list[dict[str, Any]], note: str) -> list[dict[str, Any]]:
    """At most :data:`MAX_BLOCKS` blocks; the last one says what was cut."""
    if len(blocks) <= MAX_BLOCKS:
        return blocks
    kept = blocks[: MAX_BLOCKS - 1]
    return [*kept, _context(f"_{len(blocks) - len(kept)} more blocks cut: {note}_")]


@dataclass(frozen=True)
class SlackMessage:
    """A digest as Slack messages: a top-level post and the details replied in its thread."""

    text: str  # notification fallback (plain)
    blocks: list[dict[str, Any]]
    details: list[dict[str, Any]]
    details_text: str


def render_blocks(content: DigestContent) -> SlackMessage:
    """Block Kit for the post (the essentials) and the thread reply (everything else)."""
    plain = _truncate(mrkdwn(content.summary or content.title), MAX_TEXT_CHARS)
    head = headline(content).replace("**", "*")
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": _truncate(content.title, MAX_HEADER_CHARS)},
        },
        _section(mrkdwn(head).replace("\n\n", "\n")),
    ]
    if summary_shown(content):
        blocks.append(_section(summary_mrkdwn(content)))
        if content.summary_source == "llm":
            blocks.append(_context(f"_{SUMMARY_NOTE}_"))
    groups, left_out = focus(content)
    if groups:
        blocks.append({"type": "divider"})
        blocks += [_section(_group_mrkdwn(g, content.has_previous)) for g in groups]
    elif content.message_count:
        blocks.append(_section("No medium or higher risks in this window."))
    if content.resolved:
        items = [
            (f"*{mrkdwn(str(r['description']))}* · " if r.get("description") else "")
            + f"#{mrkdwn(str(r['channel']))}: "
            + mrkdwn_link(str(r["permalink"]), quote_line(str(r["text"]), 120))
            for r in content.resolved[:SHOWN_RESOLVED]
        ]
        blocks += _chunked_sections("✅ Resolved", items)
    if content.questions:
        items = [
            f"#{mrkdwn(q.channel)} · {mrkdwn(q.user)} ({mrkdwn(q.why)}): "
            + mrkdwn_link(q.permalink, quote_line(q.quote, 120))
            for q in content.questions[:SHOWN_QUESTIONS]
        ]
        blocks += _chunked_sections("❓ Urgent questions without an answer", items)
    notes = []
    if left_out:
        notes.append(
            f"{left_out} more risk threads, the trend and the channel table: in the thread"
        )
    else:
        notes.append("Trend and channel table: in the thread")
    blocks.append(_context(*notes))
    details = _details_blocks(content, groups)
    return SlackMessage(
        text=plain,
        blocks=_fit(blocks, "see the thread"),
        details=_fit(details, "see the digest file"),
        details_text=f"Details: {mrkdwn(content.title)}",
    )


def quote_line(text: str, limit: int) -> str:
    return _truncate(" ".join(text.split()), limit)


def _details_blocks(content: DigestContent, shown: Sequence[RiskGroup]) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    rest = others(content, shown)
    if rest:
        items = [
            f"{ICON[g.level]} "
            + mrkdwn_link(g.first.permalink, g.description)
            + (f" · {mrkdwn(', '.join(g.facts))}" if g.facts else "")
            + f" · {mrkdwn(_where(g))}"
            + (f" · {mrkdwn(g.owner)}" if g.owner else "")
            for g in rest
        ]
        blocks += _chunked_sections("More risk threads", items)
    if len(content.resolved) > SHOWN_RESOLVED:
        items = [
            f"#{mrkdwn(str(r['channel']))}: "
            + mrkdwn_link(str(r["permalink"]), quote_line(str(r["text"]), 120))
            for r in content.resolved[SHOWN_RESOLVED:]
        ]
        blocks += _chunked_sections("✅ More resolved", items)
    if content.trend and any(n for _, n in content.trend):
        chart = "\n".join(bar_chart(content.trend))
        blocks.append(_section(f"*Medium+ messages per hour*\n```{_truncate(chart, 2900)}```"))
    if content.per_channel:
        rows = [
            f"#{mrkdwn(c.channel)}: {c.message_count} messages · "
            f"🔴 {c.counts['critical']} · 🟠 {c.counts['high']} · 🟡 {c.counts['medium']}"
            for c in content.per_channel
        ]
        blocks += _chunked_sections("By channel (risk threads)", rows)
    if not blocks:
        blocks.append(_section("Nothing more in this window."))
    return blocks


# -- HTML -----------------------------------------------------------------------------------------

_CSS = """
body{font:15px/1.45 -apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:60rem;
margin:2rem auto;padding:0 1rem;color:#1d1c1d}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem}
td,th{border-bottom:1px solid #ddd;padding:.35rem .5rem;text-align:left;vertical-align:top}
.q{color:#555;font-style:italic}.bar{background:#e8912d;height:.8rem;display:inline-block}
.muted{color:#777;font-size:.9em}
"""


def summary_html(content: DigestContent) -> str:
    e = html.escape
    items = [
        f"<li>{e(text)}" + "".join(f" {html_link(url, f'[{n}]')}" for n, url in cites) + "</li>"
        for text, cites in numbered_summary(content)
    ]
    if not items:
        return ""
    note = f'<p class="muted">{e(SUMMARY_NOTE)}</p>' if content.summary_source == "llm" else ""
    return "<h2>In short</h2><ul>" + "".join(items) + "</ul>" + note


def _links_html(group: RiskGroup) -> str:
    return " ".join(html_link(r.permalink, i) for i, r in enumerate(group.risks[:3], start=1)) + (
        f" +{len(group.risks) - 3}" if len(group.risks) > 3 else ""
    )


def render_html(content: DigestContent) -> str:
    """A standalone page (no scripts, every value escaped)."""
    e = html.escape
    counts = content.threads_by_level
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{e(content.title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{e(content.title)}</h1>",
        summary_html(content),
        "<p>"
        + " · ".join(f"{ICON[lv]} {counts[lv]} {lv}" for lv in ("critical", "high", "medium"))
        + "</p>",
    ]
    groups, left_out = focus(content)
    if groups:
        parts.append(
            "<h2>Act on these</h2><table><tr><th></th><th>risk</th><th>at stake</th>"
            "<th>where</th><th>who</th><th>status</th><th>source</th></tr>"
        )
        for g in groups:
            update = (
                f'<div class="q">↑ '
                f"{html_link(g.first.update_permalink, f'update ({g.first.update_level})')}: "
                f"“{e(g.first.update_quote)}”</div>"
                if g.first.update_quote
                else ""
            )
            parts.append(
                f"<tr><td>{ICON[g.level]} {e(g.level)}</td><td><b>{e(g.description)}</b>"
                f'<div class="q">“{e(g.first.quote)}”</div>{update}</td>'
                f"<td>{e(', '.join(g.facts)) or '—'}</td><td>{e(_where(g))}</td>"
                f"<td>{e(g.owner) or '—'}</td>"
                f"<td>{e(_status_text(g.status)) if content.has_previous else '—'}</td>"
                f"<td>{_links_html(g)}</td></tr>"
            )
        parts.append("</table>")
        rest = others(content, groups)
        if rest:
            parts.append(f"<h2>Other medium+ risk threads ({left_out})</h2><ul>")
            parts += [
                f"<li>{ICON[g.level]} <b>{e(g.description)}</b>"
                + (f" ({e(', '.join(g.facts))})" if g.facts else "")
                + f" — {e(_where(g))}"
                + (f" · {e(g.owner)}" if g.owner else "")
                + f" · {_links_html(g)}</li>"
                for g in rest[:LISTED_OTHERS]
            ]
            parts.append("</ul>")
            if len(rest) > LISTED_OTHERS:
                parts.append(
                    f'<p class="muted">… and {len(rest) - LISTED_OTHERS} more lines: in '
                    "risk_assessments.</p>"
                )
    if content.resolved:
        parts.append("<h2>Resolved</h2><ul>")
        parts += [
            f"<li>#{e(str(r['channel']))}: {html_link(r['permalink'], r['text'])}</li>"
            for r in content.resolved
        ]
        parts.append("</ul>")
    if content.questions:
        parts.append("<h2>Urgent questions without an answer</h2><ul>")
        parts += [
            f"<li>#{e(q.channel)} · {e(q.user)} ({e(q.why)}): "
            f"{html_link(q.permalink, q.quote)}</li>"
            for q in content.questions
        ]
        parts.append("</ul>")
    if content.trend and any(n for _, n in content.trend):
        peak = max(n for _, n in content.trend) or 1
        parts.append("<h2>Medium+ messages per hour</h2><table>")
        parts += [
            f'<tr><td>{e(label)}</td><td><span class="bar" style="width:{round(20 * n / peak)}rem">'
            f"</span> {n}</td></tr>"
            for label, n in content.trend
        ]
        parts.append("</table>")
    if content.per_channel:
        parts.append(
            "<h2>By channel</h2><table><tr><th>channel</th><th>messages</th>"
            "<th>🔴</th><th>🟠</th><th>🟡</th></tr>"
        )
        parts += [
            f"<tr><td>#{e(c.channel)}</td><td>{c.message_count}</td>"
            f"<td>{c.counts['critical']}</td><td>{c.counts['high']}</td>"
            f"<td>{c.counts['medium']}</td></tr>"
            for c in content.per_channel
        ]
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts)
