"""A :class:`~digest_pipeline.defs.digest.view.DigestView` as a standalone HTML page (the digest
file): no scripts, every value through :func:`~.escape.html_text` or :func:`~.escape.html_link`.
"""

from __future__ import annotations

from digest_pipeline.defs.digest.escape import html_link, html_text
from digest_pipeline.defs.digest.view import LISTED_OTHERS, SUMMARY_NOTE, DigestView, RiskLine

_CSS = """
body{font:15px/1.45 -apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:60rem;
margin:2rem auto;padding:0 1rem;color:#1d1c1d}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem}
td,th{border-bottom:1px solid #ddd;padding:.35rem .5rem;text-align:left;vertical-align:top}
.q{color:#555;font-style:italic}.bar{background:#e8912d;height:.8rem;display:inline-block}
.muted{color:#777;font-size:.9em}
"""


def _summary(view: DigestView) -> str:
    items = [
        f"<li>{html_text(line.text)}"
        + "".join(f" {html_link(c.url, c.label)}" for c in line.cites)
        + "</li>"
        for line in view.summary
    ]
    if not items:
        return ""
    note = f'<p class="muted">{html_text(SUMMARY_NOTE)}</p>' if view.summary_by_llm else ""
    return "<h2>In short</h2><ul>" + "".join(items) + "</ul>" + note


def _evidence(line: RiskLine) -> str:
    more = f" +{line.more_evidence}" if line.more_evidence else ""
    return " ".join(html_link(x.url, x.label) for x in line.evidence) + more


def _act_on_row(line: RiskLine, with_status: bool) -> str:
    update = ""
    if line.update is not None:
        update = (
            f'<div class="q">↑ {html_link(line.update.url, line.update.label)}: '
            f"“{html_text(line.update_quote)}”</div>"
        )
    return (
        f"<tr><td>{line.icon} {html_text(line.level)}</td><td><b>{html_text(line.title)}</b>"
        f'<div class="q">“{html_text(line.quote)}”</div>{update}</td>'
        f"<td>{html_text(line.at_stake) or '—'}</td><td>{html_text(line.where)}</td>"
        f"<td>{html_text(line.owner) or '—'}</td>"
        f"<td>{html_text(line.status) if with_status else '—'}</td>"
        f"<td>{_evidence(line)}</td></tr>"
    )


def _compact(line: RiskLine) -> str:
    return (
        f"<li>{line.icon} <b>{html_text(line.title)}</b>"
        + (f" ({html_text(line.at_stake)})" if line.at_stake else "")
        + f" — {html_text(line.where)}"
        + (f" · {html_text(line.owner)}" if line.owner else "")
        + f" · {_evidence(line)}</li>"
    )


def _risks(view: DigestView) -> list[str]:
    parts = [
        "<h2>Act on these</h2><table><tr><th></th><th>risk</th><th>at stake</th>"
        "<th>where</th><th>who</th><th>status</th><th>source</th></tr>",
        *(_act_on_row(line, view.compared) for line in view.act_on),
        "</table>",
    ]
    if view.others:
        parts.append(f"<h2>Other medium+ risk threads ({view.left_out})</h2><ul>")
        parts += [_compact(line) for line in view.others[:LISTED_OTHERS]]
        parts.append("</ul>")
        if len(view.others) > LISTED_OTHERS:
            parts.append(
                f'<p class="muted">… and {len(view.others) - LISTED_OTHERS} more lines: in '
                "risk_assessments.</p>"
            )
    return parts


def html_digest(view: DigestView) -> str:
    """A standalone page (no scripts, every value escaped)."""
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html_text(view.title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html_text(view.title)}</h1>",
        _summary(view),
        "<p>" + " · ".join(f"{lv.icon} {lv.threads} {lv.level}" for lv in view.levels) + "</p>",
    ]
    if view.act_on:
        parts += _risks(view)
    if view.resolved:
        parts.append("<h2>Resolved</h2><ul>")
        parts += [
            f"<li>#{html_text(r.channel)}: {html_link(r.link, r.text)}</li>" for r in view.resolved
        ]
        parts.append("</ul>")
    if view.questions:
        parts.append("<h2>Urgent questions without an answer</h2><ul>")
        parts += [
            f"<li>#{html_text(q.channel)} · {html_text(q.user)} ({html_text(q.why)}): "
            f"{html_link(q.link, q.quote)}</li>"
            for q in view.questions
        ]
        parts.append("</ul>")
    if view.has_trend:
        peak = max(n for _, n in view.trend) or 1
        parts.append("<h2>Medium+ messages per hour</h2><table>")
        parts += [
            f'<tr><td>{html_text(label)}</td><td><span class="bar" '
            f'style="width:{round(20 * n / peak)}rem"></span> {n}</td></tr>'
            for label, n in view.trend
        ]
        parts.append("</table>")
    if view.channels:
        parts.append(
            "<h2>By channel</h2><table><tr><th>channel</th><th>messages</th>"
            "<th>🔴</th><th>🟠</th><th>🟡</th></tr>"
        )
        parts += [
            f"<tr><td>#{html_text(c.channel)}</td><td>{c.message_count}</td>"
            f"<td>{c.counts['critical']}</td><td>{c.counts['high']}</td>"
            f"<td>{c.counts['medium']}</td></tr>"
            for c in view.channels
        ]
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts)
