"""Which threads are one issue, and which issues a digest puts first.

Threads share a line only when they are one issue: the same level, kind of issue and subject (the
same part, lot, lab or customer), so different root causes never share a heading. The category is
not part of it: a message's category leans to its channel's (``#npi-launch``), so one issue raised
in two channels may carry two; where the category is all a description says ("Supply chain risk
on PMIC"), it is the kind, and still keeps causes apart.
What a reader acts on comes first: at most :data:`SHOWN_GROUPS` lines ranked by level and
business impact (:func:`focus`); every other medium+ thread follows (:func:`others`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from digest_pipeline.defs.digest.models import DigestContent, ThreadRisk

SHOWN_GROUPS = 10  # lines in "Act on these"; every other medium+ thread is listed below it
ACT_MIN_IMPACT = 2.0  # a medium thread with this much at stake is a candidate to act on


@dataclass(frozen=True)
class RiskGroup:
    """One issue: threads of the same level and kind of issue, most severe thread first."""

    risks: tuple[ThreadRisk, ...]
    description: str  # one for all its threads (:func:`_merged_description`)

    @property
    def first(self) -> ThreadRisk:
        return self.risks[0]

    @property
    def level(self) -> str:
        return self.first.level

    @property
    def category(self) -> str:
        return self.first.category

    @property
    def kind(self) -> str:
        """The kind of issue, as written: "Lead time jump" for "Lead time jump on A, B"."""
        return _kind(self.description)

    @property
    def channels(self) -> list[str]:
        return list(dict.fromkeys(r.channel for r in self.risks))

    @property
    def where(self) -> str:
        """Where the threads are, as plain text: "#supply-chain", "3 threads in #a, #b"."""
        if len(self.risks) == 1:
            return f"#{self.first.channel}"
        return f"{len(self.risks)} threads in " + ", ".join(f"#{c}" for c in self.channels[:4])

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
# Figures inside a message's words ("120k", "4.8k", "$2.4M", "WW31"): masked to compare wording.
_FIGURES = re.compile(r"[$€£]?\d[\d.,]*\s*[kmb%]?\b")
# Shorter quotes ("line down", "any update?") are too common to be the same issue.
RECURRING_MIN_WORDS = 5


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
        # A recurring message is one issue all the same: the same words in the same channel,
        # only its figures differ ("3PL missed the pickup again. 40k units still sitting…").
        wording = _FIGURES.sub("#", risk.quote.strip().lower())
        if len(wording.split()) >= RECURRING_MIN_WORDS:
            return f"wording:{risk.channel_id}:{wording}"
        return f"thread:{risk.thread_id}"
    return re.sub(r"\s*\([^()]*\)$", "", match["subject"]).strip().lower()


def group_risks(risks: Sequence[ThreadRisk]) -> list[RiskGroup]:
    """Group threads that are one issue: the same level, kind of issue and subject (one part's
    allocation raised in two channels, whatever category each channel leans to), keeping the
    ranking of each group's best thread. Different causes or subjects never share a line."""
    groups: dict[tuple[str, str, str], list[ThreadRisk]] = {}
    for r in risks:
        key = (r.level, _kind(r.description).lower(), _subject(r))
        groups.setdefault(key, []).append(r)
    return [RiskGroup(tuple(items), _merged_description(items)) for items in groups.values()]


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
