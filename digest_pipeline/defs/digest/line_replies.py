"""One thread reply per risk line of a posted digest, for the team to react to.

Each line shown under "Act on these" (at most :data:`MAX_LINE_REPLIES`, the lines the post shows)
gets its own reply in the digest's thread; a reaction on that reply is a verdict on the line's
risks (:mod:`.feedback`). The reply names the line and the reactions that count. A line grouping
several threads stands for each of them (at most :data:`MAX_LINE_MESSAGES`).

Rendering lives here rather than in :mod:`.render` so the Block Kit of the post stays one
renderer's job and these replies can change with the feedback loop.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from digest_pipeline.contract.enumerations import DEFAULT_REACTIONS
from digest_pipeline.defs.digest.escape import mrkdwn
from digest_pipeline.defs.digest.models import DigestContent
from digest_pipeline.defs.digest.render import ICON, SHOWN_GROUPS, focus, quote_line

MAX_LINE_REPLIES = SHOWN_GROUPS  # the lines the post itself shows
MAX_LINE_MESSAGES = 25  # threads one grouped line stands for
VERDICT_WORDS = {
    "not_a_risk": "not a risk",
    "more_serious": "more serious",
    "resolved": "resolved",
}


@dataclass(frozen=True)
class LineReply:
    """A risk line's reply: its key (the line's first thread), level, the risks it stands for."""

    key: str
    level: str
    thread_ids: tuple[str, ...]
    message_ids: tuple[str, ...]
    text: str
    blocks: tuple[dict[str, Any], ...]

    def payload(self) -> dict[str, Any]:
        """As ``chat.postMessage`` receives it (and the Block Kit file shows it)."""
        return {"text": self.text, "blocks": list(self.blocks)}


def reactions_hint(reactions: Mapping[str, str]) -> str:
    return "  ·  ".join(
        f":{name}: {VERDICT_WORDS.get(verdict, verdict)}" for name, verdict in reactions.items()
    )


def risk_line_replies(
    content: DigestContent, reactions: Mapping[str, str] = DEFAULT_REACTIONS
) -> tuple[LineReply, ...]:
    """The replies for the lines the digest shows, in the digest's order."""
    groups, _ = focus(content)
    out = []
    for group in groups[:MAX_LINE_REPLIES]:
        risks = group.risks[:MAX_LINE_MESSAGES]
        title = quote_line(group.description, 200)
        where = ", ".join(f"#{c}" for c in group.channels[:4])
        text = f"{group.level.capitalize()}: {title} ({where})"
        line = f"{ICON[group.level]} *{mrkdwn(title)}*  ·  {mrkdwn(where)}"
        blocks = (
            {"type": "section", "text": {"type": "mrkdwn", "text": line}},
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": "React: " + reactions_hint(reactions)}],
            },
        )
        out.append(
            LineReply(
                key=group.first.thread_id,
                level=group.level,
                thread_ids=tuple(r.thread_id for r in risks),
                message_ids=tuple(r.message_id for r in risks),
                text=mrkdwn(text),
                blocks=blocks,
            )
        )
    return tuple(out)
