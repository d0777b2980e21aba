"""A :class:`~digest_pipeline.defs.digest.view.DigestView` as Markdown: the table's ``markdown``
column, the digest file and the Dagster UI.

Layout: the summary, the headline, "Act on these" as a table (with a status column when there
is a previous window to compare with), the other risks as a compact list (at most
:data:`~.view.LISTED_OTHERS` lines), then resolved threads, urgent questions, the trend as a
sparkline and a per-channel table. Every value goes through :func:`~.escape.markdown`.
"""

from __future__ import annotations

from collections.abc import Sequence

from digest_pipeline.defs.digest.charts import bar_chart, sparkline
from digest_pipeline.defs.digest.escape import markdown, markdown_link, safe_url
from digest_pipeline.defs.digest.view import (
    LISTED_OTHERS,
    SUMMARY_NOTE,
    DigestView,
    Link,
    RiskLine,
    Span,
    plural,
)

SHOWN_RESOLVED = 5
SHOWN_QUESTIONS = 5


def _cite(link: Link) -> str:
    """``[[n]](url)``: our own label, a safe target (else the label alone)."""
    target = safe_url(link.url)
    return f"[{link.label}]({target})" if target else markdown(link.label)


def _summary(view: DigestView) -> str:
    lines = [
        "- " + markdown(line.text) + "".join(f" {_cite(c)}" for c in line.cites)
        for line in view.summary
    ]
    if view.summary_by_llm:
        lines.append(f"\n_{SUMMARY_NOTE}_")
    return "\n".join(lines)


def _spans(spans: Sequence[Span]) -> str:
    return "".join(f"**{s.text}**" if s.strong else s.text for s in spans)


def _evidence(line: RiskLine) -> str:
    if len(line.evidence) == 1 and not line.more_evidence:
        return markdown_link(line.link, "message")
    more = f" +{line.more_evidence}" if line.more_evidence else ""
    return " ".join(markdown_link(e.url, e.label) for e in line.evidence) + more


def _act_on_row(line: RiskLine, with_status: bool) -> str:
    quoted = f" — “{markdown(line.quote)}”" if line.quote else ""
    if line.update is not None:
        quoted += (
            f" · ↑ {markdown(line.update.label)}: “{markdown(line.update_quote)}” "
            f"({markdown_link(line.update.url, 'message')})"
        )
    return (
        f"| {line.icon} | **{markdown(line.title)}**{quoted} | "
        f"{markdown(line.at_stake) or '—'} | {markdown(line.where)} | "
        f"{markdown(line.owner) or '—'} | "
        + (f"{markdown(line.status)} | " if with_status else "")
        + f"{_evidence(line)} |"
    )


def _compact(line: RiskLine) -> str:
    """One line of the compact list: level, description, figures, where, who, links."""
    facts = f" ({markdown(line.at_stake)})" if line.at_stake else ""
    who = f" · {markdown(line.owner)}" if line.owner else ""
    return (
        f"- {line.icon} **{markdown(line.title)}**{facts} — "
        f"{markdown(line.where)}{who} · {_evidence(line)}"
    )


def _risks(view: DigestView) -> list[str]:
    if not view.act_on:
        return ["No medium or higher risks in this window.", ""]
    status = view.compared
    lines = [
        f"## Act on these — {view.act_on_threads} of {plural(view.risk_threads, 'risk thread')}"
        ", by level and impact",
        "",
        "| | risk (source quote) | at stake | where | who | "
        + ("status | " if status else "")
        + "source |",
        "|---|---|---|---|---|" + ("---|" if status else "") + "---|",
        *(_act_on_row(line, status) for line in view.act_on),
        "",
    ]
    if view.others:
        lines += [f"## Other medium+ risk threads ({view.left_out})", ""]
        lines += [_compact(line) for line in view.others[:LISTED_OTHERS]]
        if len(view.others) > LISTED_OTHERS:
            lines.append(
                f"- … and {len(view.others) - LISTED_OTHERS} more lines: in `risk_assessments`"
            )
        lines.append("")
    return lines


def _section(title: str, items: Sequence[str], shown: int) -> list[str]:
    """A section listing at most ``shown`` items and counting the rest."""
    lines = [f"## {title}", "", *items[:shown]]
    if len(items) > shown:
        lines.append(f"- … and {len(items) - shown} more")
    return [*lines, ""]


def _trend_line(view: DigestView) -> str:
    series = view.trend
    total = sum(n for _, n in series)
    label, peak = max(series, key=lambda item: item[1])
    return (
        f"Medium+ messages per hour, {series[0][0]} to {series[-1][0]} {view.trend_zone}: "
        f"`{sparkline(series)}` — {total} in all, peak {peak} at {label}"
    )


def markdown_digest(view: DigestView) -> str:
    lines = [f"# {markdown(view.title)}", ""]  # per channel, the title holds its name
    if view.summary:
        lines += ["**In short**", "", _summary(view), ""]
    lines += ["\n\n".join(_spans(spans) for spans in view.headline), ""]
    if not view.has_messages:
        lines += ["No messages in this window.", ""]
        return "\n".join(lines)
    lines += _risks(view)
    if view.resolved:
        resolved = [
            "- ✅ "
            + (f"**{markdown(r.issue)}** ({markdown(r.level)}) in " if r.issue else "")
            + f"#{markdown(r.channel)} — {markdown(r.user)}: “{markdown(r.text)}” "
            f"({markdown_link(r.link, 'message')})"
            for r in view.resolved
        ]
        lines += _section("Resolved", resolved, SHOWN_RESOLVED)
    if view.questions:
        questions = [
            f"- ❓ #{markdown(q.channel)} — {markdown(q.user)} at {q.at} "
            f"({markdown(q.why)}): “{markdown(q.quote)}” ({markdown_link(q.link, 'message')})"
            for q in view.questions
        ]
        lines += _section("Urgent questions without an answer", questions, SHOWN_QUESTIONS)
    if view.has_trend:
        lines += ["## Trend", "", _trend_line(view), ""]
    if view.channels:
        lines += [
            "## By channel (risk threads)",
            "",
            "| channel | messages | 🔴 | 🟠 | 🟡 |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| #{markdown(c.channel)} | {c.message_count} | {c.counts['critical']} | "
            f"{c.counts['high']} | {c.counts['medium']} |"
            for c in view.channels
        ]
        lines.append("")
    return "\n".join(lines)


def markdown_risk_counts(view: DigestView) -> str:
    """For the UI's metadata: risk threads per level as a table and a small bar chart."""
    lines = ["| level | risk threads | new | escalated |", "|---|---|---|---|"]
    lines += [
        f"| {lv.icon} {lv.level} | {lv.threads} | {lv.new} | {lv.escalated} |" for lv in view.levels
    ]
    levels = bar_chart([(lv.level, lv.threads) for lv in view.levels])
    lines += ["", "Risk threads by level:", "", "```", *levels, "```"]
    if view.trend:
        lines += ["", "Medium+ messages per hour:", "", "```", *bar_chart(view.trend), "```"]
    return "\n".join(lines)
