"""What a digest says, as frozen values: built by :mod:`.build`, rendered by :mod:`.render`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from digest_pipeline.contract.enumerations import LEVELS

LEVEL_POINTS = {"low": 0.0, "medium": 2.5, "high": 5.0, "critical": 10.0}
MAX_IMPACT_POINTS = 1.9  # with the attention half point, below the 2.5 between levels


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
    quote: str = ""
    owner: str = ""  # name (role) of whoever should act, when one can be told
    owner_reason: str = ""  # "mentioned" (asked in the thread) or "raised" (started it)
    status: str = "new"  # new, escalated or ongoing (since the previous window); "" unknown
    previous_level: str | None = None
    messages: int = 1  # messages of the thread in the window
    raised_by: str = ""  # name (role) of who wrote the message that raised the risk
    asked: str = ""  # name (role) of someone @-mentioned in this thread, if any
    impact: float = 0.0  # business impact points (see impact.py): ranks the digest
    facts: tuple[str, ...] = ()  # the figures at stake: "$340k", "12k units", "stopped"
    # A later message at a higher level than the one that raised the risk: the update.
    update_message_id: str | None = None
    update_quote: str = ""
    update_permalink: str = ""
    update_level: str | None = None

    @property
    def stakes(self) -> float:
        """What the risk puts at stake: a base for its level (the scorer's judgement of how bad
        it is), the figures the thread states (capped below one level step), half a point when
        someone must act."""
        return (
            LEVEL_POINTS.get(self.level, 0.0)
            + min(self.impact, MAX_IMPACT_POINTS)
            + (0.5 if self.requires_attention else 0.0)
        )

    @property
    def rank_score(self) -> float:
        """What the digest ranks by: the level first, then the expected stakes — the stakes
        weighted by the scorer's confidence that the risk is real, so a figure attached to a
        doubtful risk does not push a confident one out."""
        return 100.0 * LEVELS.index(self.level) + self.confidence * self.stakes

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
            "quote": self.quote,
            "owner": self.owner,
            "owner_reason": self.owner_reason,
            "raised_by": self.raised_by,
            "asked": self.asked,
            "status": self.status or None,
            "previous_level": self.previous_level,
            "impact": self.impact,
            "facts": list(self.facts),
            "update_message_id": self.update_message_id,
            "update_quote": self.update_quote or None,
            "update_permalink": self.update_permalink or None,
            "update_level": self.update_level,
            "messages": self.messages,
        }


@dataclass(frozen=True)
class Question:
    """An urgent question nobody has answered yet."""

    message_id: str
    channel_id: str
    channel: str
    user: str
    timestamp: datetime
    quote: str
    permalink: str
    why: str  # what made it urgent: "critical risk", "@here", "high urgency", ...

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"timestamp": self.timestamp.isoformat()}


@dataclass(frozen=True)
class Citation:
    """The message a summary sentence rests on."""

    message_id: str
    permalink: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SummarySentence:
    """One sentence of the summary and the messages it cites (none for a sentence of counts)."""

    text: str
    sources: tuple[Citation, ...] = ()


@dataclass(frozen=True)
class ChannelLine:
    channel_id: str
    channel: str
    message_count: int
    counts: Mapping[str, int]  # risky threads per level

    def as_dict(self) -> dict[str, Any]:
        return {
            "channel_id": self.channel_id,
            "channel": self.channel,
            "message_count": self.message_count,
            **{f"{lv}_threads": n for lv, n in self.counts.items()},
        }


@dataclass(frozen=True)
class DigestContent:
    """Everything one digest says, ready to render (Markdown, Block Kit, HTML)."""

    title: str
    kind: str  # hourly or daily
    scope: str  # channel ID, or OVERALL
    window_start: datetime
    window_end: datetime
    message_count: int
    thread_count: int
    channel_count: int
    risks: tuple[ThreadRisk, ...]  # every medium+ thread, ranked, with its status
    resolved: tuple[dict[str, Any], ...] = ()
    questions: tuple[Question, ...] = ()
    trend: tuple[tuple[str, int], ...] = ()  # (label, medium+ messages)
    per_channel: tuple[ChannelLine, ...] = ()
    hidden_messages: int = 0  # counted but not quoted (private channels)
    hidden_channels: int = 0
    has_previous: bool = False
    summary_sentences: tuple[SummarySentence, ...] = ()
    summary_source: str = "extractive"  # extractive, or llm (a narrative the LLM wrote)

    @property
    def summary(self) -> str:
        """The summary as plain text (the table's ``summary``, Slack's notification text)."""
        return " ".join(s.text for s in self.summary_sentences)

    @property
    def summary_citations(self) -> list[Citation]:
        return list(dict.fromkeys(c for s in self.summary_sentences for c in s.sources))

    @property
    def threads_by_level(self) -> dict[str, int]:
        counts = dict.fromkeys(LEVELS, 0)
        for r in self.risks:
            counts[r.level] += 1
        return counts

    @property
    def new(self) -> list[ThreadRisk]:
        return [r for r in self.risks if r.status == "new"] if self.has_previous else []

    @property
    def escalated(self) -> list[ThreadRisk]:
        return [r for r in self.risks if r.status == "escalated"]

    @property
    def actions(self) -> list[ThreadRisk]:
        return [r for r in self.risks if r.requires_attention]

    def cited_message_ids(self) -> set[str]:
        ids = {r.message_id for r in self.risks}
        ids |= {str(r["message_id"]) for r in self.resolved}
        ids |= {q.message_id for q in self.questions}
        ids |= {c.message_id for c in self.summary_citations}
        return ids
