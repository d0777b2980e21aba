"""The extractive summary: the digest's default opening, each claim citing its messages."""

from __future__ import annotations

from digest_pipeline.defs.digest.grouping import RiskGroup, focus
from digest_pipeline.defs.digest.models import Citation, DigestContent, SummarySentence

SUMMARY_RISKS = 3  # critical issues the summary names one by one
SUMMARY_KINDS = 4  # issues (critical, or kinds of issue) it names in all


def _channels(group: RiskGroup) -> str:
    return ", ".join(f"#{c}" for c in group.channels[:3])


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def extractive_summary(content: DigestContent, label: str) -> tuple[SummarySentence, ...]:
    """The default summary: the counts, what changed, critical issues in the digest's own words,
    where the other risks concentrate (kind of issue, threads, channels) and the questions
    nobody answered; each claim about messages cites them."""
    if content.message_count == 0:
        return (SummarySentence(f"{label}: no messages."),)
    by_level = content.threads_by_level
    sentences = [
        SummarySentence(
            f"{label}: {_plural(content.message_count, 'message')} in "
            f"{_plural(content.channel_count, 'channel')}; {by_level['critical']} critical, "
            f"{by_level['high']} high and {by_level['medium']} medium risk threads."
        )
    ]
    if content.has_previous:
        sentences.append(
            SummarySentence(
                f"{len(content.new)} new, {len(content.escalated)} escalated and "
                f"{len(content.resolved)} resolved since the previous window."
            )
        )
    groups, _ = focus(content)
    if not groups:
        sentences.append(SummarySentence("Nothing needs attention."))
    # Critical issues one by one, in their own words; the rest as where the risk is
    # concentrated (kind of issue, threads, channels), one sentence per level.
    critical = [g for g in groups if g.level == "critical"][:SUMMARY_RISKS]
    for group in critical:
        who = f" — {group.owner}" if group.owner.startswith("raised") else ""
        who = who or (f" — owner {group.owner}" if group.owner else "")
        sentences.append(
            SummarySentence(
                f"Critical: {group.description} in {_channels(group)}{who}.",
                tuple(Citation(r.message_id, r.permalink) for r in group.risks[:3]),
            )
        )
    rest = [g for g in groups if g.level != "critical"][: SUMMARY_KINDS - len(critical)]
    for level in ("high", "medium"):
        kinds = [g for g in rest if g.level == level]
        if not kinds:
            continue
        parts = [
            f"{g.kind} ({len(g.risks)} threads in {_channels(g)})"
            if len(g.risks) > 1
            else f"{g.description} in {_channels(g)}"
            for g in kinds
        ]
        sentences.append(
            SummarySentence(
                f"{level.capitalize()}: {'; '.join(parts)}.",
                tuple(Citation(g.first.message_id, g.first.permalink) for g in kinds),
            )
        )
    if content.questions:
        n = len(content.questions)
        sentences.append(
            SummarySentence(
                f"{_plural(n, 'urgent question')} still without an answer.",
                tuple(Citation(q.message_id, q.permalink) for q in content.questions[:3]),
            )
        )
    return tuple(sentences)
