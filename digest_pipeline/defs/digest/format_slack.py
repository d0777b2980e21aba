"""A :class:`~digest_pipeline.defs.digest.view.DigestView` as Slack messages: a top-level post
with the essentials (Block Kit, mrkdwn text) and a reply in its thread with everything else.

Slack limits respected (https://api.slack.com/reference/block-kit): at most 50 blocks a
message, 3,000 characters in a section's text, 150 in a header, 10 elements in a context block;
the fallback ``text`` stays far below the 40,000 characters Slack accepts. Every value goes
through :func:`~.escape.mrkdwn` or :func:`~.escape.mrkdwn_link`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from digest_pipeline.defs.digest.charts import bar_chart
from digest_pipeline.defs.digest.escape import mrkdwn, mrkdwn_link
from digest_pipeline.defs.digest.view import SUMMARY_NOTE, DigestView, RiskLine

SHOWN_RESOLVED = 5  # in the post; the rest in its thread
SHOWN_QUESTIONS = 5
QUOTE_CHARS = 120
MAX_BLOCKS = 50
MAX_SECTION_CHARS = 3000
MAX_HEADER_CHARS = 150
MAX_CONTEXT_ELEMENTS = 10
MAX_TEXT_CHARS = 3000  # the notification fallback; Slack truncates past 40,000

Block = dict[str, Any]


@dataclass(frozen=True)
class SlackMessage:
    """A digest as Slack messages: a top-level post and the details replied in its thread."""

    text: str  # notification fallback (plain)
    blocks: list[Block]
    details: list[Block]
    details_text: str


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def quote_line(text: str, limit: int) -> str:
    return truncate(" ".join(text.split()), limit)


def _section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": truncate(text, 3000)}}


def _context(*texts: str) -> Block:
    return {
        "type": "context",
        "elements": [
            {"type": "mrkdwn", "text": truncate(t, 3000)} for t in texts[:MAX_CONTEXT_ELEMENTS]
        ],
    }


def _chunked_sections(title: str, items: Sequence[str]) -> list[Block]:
    """``title`` and bullet ``items`` as sections of at most 3,000 characters each."""
    blocks: list[Block] = []
    current = f"*{title}*"
    for item in items:
        line = "\n• " + truncate(item, MAX_SECTION_CHARS - len(title) - 10)
        if len(current) + len(line) > MAX_SECTION_CHARS:
            blocks.append(_section(current))
            current = f"*{title} (continued)*"
        current += line
    blocks.append(_section(current))
    return blocks


def _fit(blocks: list[Block], note: str) -> list[Block]:
    """At most :data:`MAX_BLOCKS` blocks; the last one says what was cut."""
    if len(blocks) <= MAX_BLOCKS:
        return blocks
    kept = blocks[: MAX_BLOCKS - 1]
    return [*kept, _context(f"_{len(blocks) - len(kept)} more blocks cut: {note}_")]


def _summary(view: DigestView) -> str:
    lines = [
        "• "
        + mrkdwn(" ".join(line.text.split()))
        + "".join(f" {mrkdwn_link(c.url, c.label)}" for c in line.cites)
        for line in view.summary
    ]
    return truncate("*In short*\n" + "\n".join(lines), MAX_SECTION_CHARS)


def _headline(view: DigestView) -> str:
    return "\n".join(
        "".join(f"*{mrkdwn(s.text)}*" if s.strong else mrkdwn(s.text) for s in spans)
        for spans in view.headline
    )


def _risk_section(line: RiskLine, with_status: bool) -> str:
    facts = [mrkdwn(line.at_stake)] if line.at_stake else []
    facts.append(mrkdwn(line.where))
    if line.owner:
        facts.append(mrkdwn(line.owner))
    if with_status and line.status:
        facts.append(mrkdwn(line.status))
    text = f"{line.icon} *{mrkdwn_link(line.link, line.title)}*  ·  " + "  ·  ".join(facts)
    if line.quote:
        text += f"\n> {mrkdwn(line.quote)}"
    if line.update is not None:
        text += (
            f"\n↑ {mrkdwn_link(line.update.url, line.update.label)}: {mrkdwn(line.update_quote)}"
        )
    if line.also:
        text += "\nAlso: " + ", ".join(mrkdwn_link(a.url, a.label) for a in line.also)
    return text


def _compact(line: RiskLine) -> str:
    return (
        f"{line.icon} "
        + mrkdwn_link(line.link, line.title)
        + (f" · {mrkdwn(line.at_stake)}" if line.at_stake else "")
        + f" · {mrkdwn(line.where)}"
        + (f" · {mrkdwn(line.owner)}" if line.owner else "")
    )


def _post_blocks(view: DigestView) -> list[Block]:
    blocks: list[Block] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": truncate(view.title, MAX_HEADER_CHARS)},
        },
        _section(_headline(view)),
    ]
    if view.summary:
        blocks.append(_section(_summary(view)))
        if view.summary_by_llm:
            blocks.append(_context(f"_{SUMMARY_NOTE}_"))
    if view.act_on:
        blocks.append({"type": "divider"})
        blocks += [_section(_risk_section(line, view.compared)) for line in view.act_on]
    elif view.has_messages:
        blocks.append(_section("No medium or higher risks in this window."))
    if view.resolved:
        items = [
            (f"*{mrkdwn(r.issue)}* · " if r.issue else "")
            + f"#{mrkdwn(r.channel)}: "
            + mrkdwn_link(r.link, quote_line(r.text, QUOTE_CHARS))
            for r in view.resolved[:SHOWN_RESOLVED]
        ]
        blocks += _chunked_sections("✅ Resolved", items)
    if view.questions:
        items = [
            f"#{mrkdwn(q.channel)} · {mrkdwn(q.user)} ({mrkdwn(q.why)}): "
            + mrkdwn_link(q.link, quote_line(q.quote, QUOTE_CHARS))
            for q in view.questions[:SHOWN_QUESTIONS]
        ]
        blocks += _chunked_sections("❓ Urgent questions without an answer", items)
    if view.left_out:
        note = f"{view.left_out} more risk threads, the trend and the channel table: in the thread"
    else:
        note = "Trend and channel table: in the thread"
    blocks.append(_context(note))
    return blocks


def _details_blocks(view: DigestView) -> list[Block]:
    blocks: list[Block] = []
    if view.others:
        blocks += _chunked_sections("More risk threads", [_compact(line) for line in view.others])
    if len(view.resolved) > SHOWN_RESOLVED:
        items = [
            f"#{mrkdwn(r.channel)}: " + mrkdwn_link(r.link, quote_line(r.text, QUOTE_CHARS))
            for r in view.resolved[SHOWN_RESOLVED:]
        ]
        blocks += _chunked_sections("✅ More resolved", items)
    if view.has_trend:
        chart = "\n".join(bar_chart(view.trend))
        blocks.append(_section(f"*Medium+ messages per hour*\n```{truncate(chart, 2900)}```"))
    if view.channels:
        rows = [
            f"#{mrkdwn(c.channel)}: {c.message_count} messages · "
            f"🔴 {c.counts['critical']} · 🟠 {c.counts['high']} · 🟡 {c.counts['medium']}"
            for c in view.channels
        ]
        blocks += _chunked_sections("By channel (risk threads)", rows)
    if not blocks:
        blocks.append(_section("Nothing more in this window."))
    return blocks


def slack_digest(view: DigestView) -> SlackMessage:
    """Block Kit for the post (the essentials) and the thread reply (everything else)."""
    return SlackMessage(
        text=truncate(mrkdwn(view.notification), MAX_TEXT_CHARS),
        blocks=_fit(_post_blocks(view), "see the thread"),
        details=_fit(_details_blocks(view), "see the digest file"),
        details_text=f"Details: {mrkdwn(view.title)}",
    )
