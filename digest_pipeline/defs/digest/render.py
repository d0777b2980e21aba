"""Render a :class:`~digest_pipeline.defs.digest.models.DigestContent`: Markdown (the table and
the Dagster UI), Slack Block Kit (delivery) and a standalone HTML page (files).

Decide once, draw three times: :func:`~.view.digest_view` decides what the digest shows — which
threads share a line (:mod:`.grouping`), what each line says, its figures, owners and evidence
links — and each format is a thin formatter over that view (:mod:`.format_markdown`,
:mod:`.format_slack`, :mod:`.format_html`). Every renderer lists each risk once: what a reader
acts on first, then every other medium+ thread (the Slack post puts them in its thread), then
what was resolved, the urgent questions nobody answered, the trend and the per-channel table.

The names other modules import from here (grouping, Slack limits, charts) stay importable.
"""

from __future__ import annotations

from digest_pipeline.defs.digest.charts import bar_chart, sparkline
from digest_pipeline.defs.digest.format_html import html_digest
from digest_pipeline.defs.digest.format_markdown import markdown_digest, markdown_risk_counts
from digest_pipeline.defs.digest.format_slack import (
    MAX_BLOCKS,
    SlackMessage,
    quote_line,
    slack_digest,
)
from digest_pipeline.defs.digest.grouping import SHOWN_GROUPS, RiskGroup, focus, group_risks
from digest_pipeline.defs.digest.models import DigestContent
from digest_pipeline.defs.digest.view import ICON, digest_view

__all__ = [
    "ICON",
    "MAX_BLOCKS",
    "SHOWN_GROUPS",
    "RiskGroup",
    "SlackMessage",
    "bar_chart",
    "focus",
    "group_risks",
    "quote_line",
    "render_blocks",
    "render_html",
    "render_markdown",
    "risk_counts_markdown",
    "sparkline",
]


def render_markdown(content: DigestContent) -> str:
    return markdown_digest(digest_view(content))


def render_blocks(content: DigestContent) -> SlackMessage:
    """Block Kit for the post (the essentials) and the thread reply (everything else)."""
    return slack_digest(digest_view(content))


def render_html(content: DigestContent) -> str:
    """A standalone page (no scripts, every value escaped)."""
    return html_digest(digest_view(content))


def risk_counts_markdown(content: DigestContent) -> str:
    """For the UI's metadata: risk threads per level as a table and a small bar chart."""
    return markdown_risk_counts(digest_view(content))
