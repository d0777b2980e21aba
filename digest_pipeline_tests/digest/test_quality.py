"""The digest's quality against known true levels: act-on recall and precision, resolutions."""

from datetime import UTC, datetime, timedelta

import pandas as pd

from digest_pipeline.defs.digest.build import DigestInputs, build_digests
from digest_pipeline.defs.digest.quality import (
    LABELS_SCHEMA,
    LABELS_TABLE,
    Truth,
    act_on_quality,
    read_truth,
)
from digest_pipeline.defs.storage.warehouse import Warehouse

T0 = datetime(2026, 3, 10, 9, tzinfo=UTC)
CHANNELS = pd.DataFrame(
    {"channel_id": ["C1"], "name": ["ops"], "is_private": [False], "topic": [""], "purpose": [""]}
)


def _msg(i: int, level: str, *, parent: int | None = None, text: str = "text") -> dict:
    return {
        "id": f"C1:{i}",
        "channel_id": "C1",
        "channel": "ops",
        "user": "u",
        "timestamp": T0 + timedelta(minutes=i),
        "content": text,
        "permalink": f"https://x/p{i}",
        "is_reply": parent is not None,
        "parent_id": f"C1:{parent}" if parent is not None else None,
        "risk_level": level,
        "risk_category": "supply_chain",
        "description": f"risk {i}",
        "confidence_score": 0.8,
        "requires_attention": level != "low",
    }


def test_act_on_and_resolution_figures_against_the_truth():
    rows = [
        _msg(1, "high"),  # truly high: shown
        _msg(2, "high"),  # truly low: a false alarm on a line
        _msg(3, "medium"),  # truly critical: shown (few lines to fill)
        _msg(4, "low"),  # truly high, missed entirely
        _msg(5, "high"),
        _msg(6, "low", parent=5, text="Fixed, line is back up"),  # closes thread 5, listed
        _msg(7, "medium"),
        _msg(8, "medium", parent=7, text="PO is out, we're covered"),  # closes 7, not listed
    ]
    frame = pd.DataFrame(rows)
    _, content, _ = build_digests(
        DigestInputs(T0, T0 + timedelta(hours=1), frame, CHANNELS), "Test"
    )
    truth = Truth(
        {"C1:1": "high", "C1:2": "low", "C1:3": "critical", "C1:4": "high", "C1:5": "high",
         "C1:6": "low", "C1:7": "medium", "C1:8": "low"},
        frozenset({"C1:6", "C1:8"}),
    )  # fmt: skip
    figures = act_on_quality(content, frame, truth)
    assert figures["quality_true_high_critical_threads"] == 4  # 1, 3, 4 and (closed) 5
    assert figures["act_on_lines"] == 4  # 1, 2, 3 and 7; 5 is resolved
    assert figures["act_on_recall"] == 0.5 and figures["act_on_precision"] == 0.5
    assert figures["quality_truly_resolved_threads"] == 2
    assert figures["resolved_recall"] == 0.5 and figures["resolved_precision"] == 1.0


def test_no_truth_no_figures_and_the_table_round_trips(duckdb_path):
    warehouse = Warehouse(duckdb_path=duckdb_path)
    assert read_truth(warehouse, ["C1:1"]) == Truth({})
    labels = pd.DataFrame(
        {"message_id": ["C1:1", "C1:2"], "risk_level": ["high", "bogus"], "resolves": [False, True],
         "source": "test"}
    )  # fmt: skip
    warehouse.replace_rows(LABELS_TABLE, labels, key=["message_id"], schema=LABELS_SCHEMA)
    truth = read_truth(warehouse, ["C1:1", "C1:2", "C1:3"])
    assert truth.levels == {"C1:1": "high"} and truth.resolving == {"C1:2"}
    assert act_on_quality(None, pd.DataFrame(), truth) == {}  # type: ignore[arg-type]
