"""Digest content on crafted inputs: ranking, changes between windows, audience, opt-out."""

import json
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from digest_pipeline.defs.digest.build import (
    OVERALL,
    DigestInputs,
    build_digest,
    thread_risks,
)

T0 = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)


def _msg(
    i: int,
    level: str,
    *,
    channel: str = "C1",
    parent: int | None = None,
    text: str = "text",
    attention: bool | None = None,
    minute: int | None = None,
) -> dict:
    return {
        "id": f"{channel}:{i}",
        "channel_id": channel,
        "channel": {"C1": "supply-chain", "C2": "exec", "C3": "quiet"}[channel],
        "user": f"user{i}",
        "timestamp": T0 + timedelta(minutes=minute if minute is not None else i),
        "content": text,
        "permalink": f"https://x.slack.com/archives/{channel}/p{i}",
        "is_reply": parent is not None,
        "parent_id": f"{channel}:{parent}" if parent is not None else None,
        "risk_level": level,
        "risk_category": "supply_chain",
        "description": f"risk {i}",
        "confidence_score": 0.8,
        "requires_attention": level in ("high", "critical") if attention is None else attention,
    }


CHANNELS = pd.DataFrame(
    [
        {
            "channel_id": "C1",
            "name": "supply-chain",
            "is_private": False,
            "topic": "",
            "purpose": "",
        },
        {"channel_id": "C2", "name": "exec", "is_private": True, "topic": "", "purpose": ""},
        {
            "channel_id": "C3",
            "name": "quiet",
            "is_private": False,
            "topic": "[no-digest]",
            "purpose": "",
        },
    ]
)


def _digest(rows: list[dict], previous: list[dict] | None = None) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    prev = pd.DataFrame(previous) if previous is not None else None
    return build_digest(DigestInputs(T0, T0 + timedelta(hours=1), frame, CHANNELS, prev), "Test")


def _overall(digest: pd.DataFrame) -> pd.Series:
    return digest.loc[digest["channel_id"] == OVERALL].iloc[0]


def test_risks_rank_by_level_and_a_thread_counts_once():
    rows = [
        _msg(1, "medium"),
        _msg(2, "high"),
        _msg(3, "low", parent=2),
        _msg(4, "critical", parent=2),  # the worst message of thread 2
        _msg(5, "high"),
    ]
    risks = thread_risks(pd.DataFrame(rows))
    assert [r.message_id for r in risks] == ["C1:4", "C1:5", "C1:1"]
    assert risks[0].thread_id == "C1:2"


def test_every_top_risk_cites_a_message_and_permalink():
    top = json.loads(_overall(_digest([_msg(1, "high"), _msg(2, "low")]))["top_risks"])
    assert top == [
        {
            "thread_id": "C1:1",
            "risk_level": "high",
            "message_id": "C1:1",
            "channel_id": "C1",
            "channel": "supply-chain",
            "user": "user1",
            "timestamp": (T0 + timedelta(minutes=1)).isoformat(),
            "description": "risk 1",
            "risk_category": "supply_chain",
            "permalink": "https://x.slack.com/archives/C1/p1",
            "requires_attention": True,
        }
    ]


def test_new_escalated_and_resolved_against_the_previous_window():
    previous = [_msg(10, "medium"), _msg(20, "high")]
    current = [
        _msg(11, "high", parent=10),  # thread 10 escalates medium -> high
        _msg(21, "low", parent=20, text="Fixed, line is back up"),  # thread 20 resolves
        _msg(30, "high"),  # new
    ]
    overall = _overall(_digest(current, previous))
    assert [r["thread_id"] for r in json.loads(overall["new_risks"])] == ["C1:30"]
    assert [r["thread_id"] for r in json.loads(overall["escalated_risks"])] == ["C1:10"]
    assert [r["thread_id"] for r in json.loads(overall["resolved_risks"])] == ["C1:20"]


def test_a_thanks_reply_does_not_resolve_a_risk():
    previous = [_msg(20, "high")]
    overall = _overall(
        _digest([_msg(21, "low", parent=20, text="thanks for the heads up")], previous)
    )
    assert json.loads(overall["resolved_risks"]) == []


def test_the_overall_digest_never_quotes_private_channels():
    digest = _digest(
        [_msg(1, "critical", channel="C2", text="board-only numbers"), _msg(2, "high")]
    )
    overall = _overall(digest)
    assert [r["channel_id"] for r in json.loads(overall["top_risks"])] == ["C1"]
    assert "board-only" not in overall["markdown"]
    # The private channel's own digest row still exists for its own audience.
    assert "C2" in set(digest["channel_id"])


def test_channels_opt_out_with_a_marker_in_topic_or_purpose():
    digest = _digest([_msg(1, "high", channel="C3"), _msg(2, "medium")])
    assert "C3" not in set(digest["channel_id"])
    assert json.loads(_overall(digest)["opted_out_channels"]) == ["C3"]


def test_an_empty_window_still_has_an_overall_row():
    empty = pd.DataFrame(columns=list(_msg(1, "low")))
    digest = build_digest(DigestInputs(T0, T0 + timedelta(hours=1), empty, CHANNELS), "Quiet hour")
    assert list(digest["channel_id"]) == [OVERALL]
    assert _overall(digest)["summary"] == "Quiet hour: no messages."


@pytest.mark.parametrize("level", ["low", "medium", "high", "critical"])
def test_counts_per_level_add_up(level):
    overall = _overall(_digest([_msg(1, level), _msg(2, "low")]))
    counts = {lv: overall[f"{lv}_count"] for lv in ("low", "medium", "high", "critical")}
    assert sum(counts.values()) == overall["message_count"] == 2
    assert counts[level] >= 1
