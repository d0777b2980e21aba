"""How well a digest's "Act on these" lines agree with known true levels of the day's messages.

Truth lives in the warehouse table ``digest_quality_labels`` (``message_id``, ``risk_level``):
the demo writes its ground truth there (``digest-demo``), and a team that labels a day of its
own messages can load them the same way. When the table holds labels for a day's messages, the
daily digest's metadata reports, over the threads with a labeled message:

* ``act_on_recall``: the share of the day's truly high/critical threads shown on the lines;
* ``act_on_precision``: the share of lines whose quoted thread is truly high/critical;
* ``resolved_recall`` / ``resolved_precision``: of the risky threads a labeled message truly
  closes, the share the digest lists as resolved; of those it lists, the share truly closed.

A thread's true level is the highest true level of its labeled messages. With at most
:data:`~digest_pipeline.defs.digest.render.SHOWN_GROUPS` lines a day, recall is bounded by how
many risky threads a day holds: the figure to watch is precision, and recall against that bound.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from digest_pipeline.contract.enumerations import LEVEL_RANK
from digest_pipeline.defs.digest.build import thread_ids
from digest_pipeline.defs.digest.models import DigestContent
from digest_pipeline.defs.digest.render import focus
from digest_pipeline.defs.storage.side_table import SideTable
from digest_pipeline.defs.storage.warehouse import Warehouse

LABELS = SideTable.declared("digest_quality_labels")
LABELS_TABLE, LABELS_SCHEMA = LABELS.name, LABELS.schema
RISKY = LEVEL_RANK["high"]


@dataclass(frozen=True)
class Truth:
    levels: Mapping[str, str]  # message_id -> true level
    resolving: frozenset[str] = frozenset()  # message_ids that close their thread's problem


def read_truth(warehouse: Warehouse, message_ids: list[str]) -> Truth:
    """True levels of ``message_ids`` (none before the table's first labels; a table without
    the ``resolves`` column resolves nothing)."""
    rows = LABELS.read(warehouse, {"message_id": message_ids})
    levels = {
        str(m): str(level)
        for m, level in zip(rows["message_id"], rows["risk_level"], strict=True)
        if level in LEVEL_RANK
    }
    resolving = frozenset(
        str(m)
        for m, r in zip(rows["message_id"], rows["resolves"], strict=True)
        if r is True or r == 1
    )
    return Truth(levels, resolving)


def act_on_quality(content: DigestContent, frame: pd.DataFrame, truth: Truth) -> dict[str, Any]:
    """Recall and precision of the "Act on these" lines and of the resolved threads against
    ``truth`` (see module doc); empty when no message of ``frame`` is labeled."""
    if frame.empty or not truth.levels:
        return {}
    true_rank: dict[str, int] = {}
    closed: set[str] = set()
    for message_id, thread_id in zip(frame["id"], thread_ids(frame), strict=True):
        level = truth.levels.get(message_id)
        if level is not None:
            true_rank[thread_id] = max(true_rank.get(thread_id, 0), LEVEL_RANK[level])
        if message_id in truth.resolving:
            closed.add(thread_id)
    if not true_rank:
        return {}
    listed = {str(item["thread_id"]) for item in content.resolved}
    truly_closed = {t for t in closed if true_rank.get(t, 0) >= LEVEL_RANK["medium"]}
    risky = {t for t, rank in true_rank.items() if rank >= RISKY}
    lines, _ = focus(content)
    shown = {r.thread_id for g in lines for r in g.risks}
    judged = [g.first.thread_id for g in lines if g.first.thread_id in true_rank]
    right = sum(1 for t in judged if t in risky)
    return {
        "quality_labeled_threads": len(true_rank),
        "quality_true_high_critical_threads": len(risky),
        "act_on_lines": len(lines),
        "act_on_recall": round(len(shown & risky) / len(risky), 3) if risky else None,
        "act_on_recall_bound": round(min(len(shown), len(risky)) / len(risky), 3)
        if risky
        else None,
        "act_on_precision": round(right / len(judged), 3) if judged else None,
        "quality_truly_resolved_threads": len(truly_closed),
        "resolved_listed": len(listed),
        "resolved_recall": round(len(listed & truly_closed) / len(truly_closed), 3)
        if truly_closed
        else None,
        "resolved_precision": round(len(listed & closed) / len(listed), 3) if listed else None,
    }
