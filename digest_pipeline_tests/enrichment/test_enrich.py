from __future__ import annotations

import hashlib
import json
from typing import Any

import pandas as pd
import pytest

from digest_pipeline.contract.enumerations import CATEGORIES, LEVELS, MESSAGE_TYPES
from digest_pipeline.defs.enrichment.enrich import (
    COLUMNS,
    CONTRACT_COLUMNS,
    EnrichResult,
    empty_messages_frame,
    enrich_messages,
)

CHANNEL = "C01SUPPLY"
WORKSPACE = "https://acme-hw.slack.com/"

USERS = pd.DataFrame(
    {
        "user_id": ["U01ALICE", "U02BOB", "U03NODISP", "U04BOTUSER"],
        "name": ["alice", "bob", "carol", "buildbot"],
        "display_name": ["Alice Chen", "", "", ""],
        "real_name": ["Alice Chen", "Bob Diaz", "", "Build Bot"],
        "is_bot": [False, False, False, True],
        "deleted": [False, False, False, False],
    }
)
CHANNELS = pd.DataFrame({"channel_id": [CHANNEL], "name": ["supply-chain"], "is_private": [False]})

# Slack message payloads as conversations.history / conversations.replies return them.
PLAIN = {"type": "message", "user": "U02BOB", "text": "Morning all", "ts": "1700000000.000100"}
MENTIONS = {
    "type": "message",
    "user": "U01ALICE",
    "text": "<!here> <@U02BOB> TPS65219 PMIC is on allocation, lead time 52 weeks",
    "ts": "1700000001.000200",
    "reactions": [
        {"name": "rotating_light", "users": ["U02BOB"], "count": 1},
        {"name": "eyes", "users": ["U02BOB", "U03NODISP"], "count": 2},
    ],
}
PARENT = {
    "type": "message",
    "user": "U01ALICE",
    "text": "Murata MLCC shortage thread",
    "ts": "1700000002.000300",
    "thread_ts": "1700000002.000300",
    "reply_count": 6,
    "reply_users_count": 2,
    "latest_reply": "1700000005.000600",
}
REPLY = {
    "type": "message",
    "user": "U02BOB",
    "text": "Distributor has 5,000 pcs, I'll grab them",
    "ts": "1700000003.000400",
    "thread_ts": "1700000002.000300",
    "parent_user_id": "U01ALICE",
}
BROADCAST = {
    "type": "message",
    "subtype": "thread_broadcast",
    "user": "U03NODISP",
    "text": "Update: secured the MLCCs",
    "ts": "1700000004.000500",
    "thread_ts": "1700000002.000300",
    "root": {"ts": "1700000002.000300"},
}
BOT = {
    "type": "message",
    "subtype": "bot_message",
    "bot_id": "B01ALERTS",
    "username": "Yield Monitor",
    "text": "",
    "ts": "1700000005.000600",
    "attachments": [
        {"fallback": "FPY alert", "pretext": "FPY alert", "text": "SMT line 2 FPY fell to 88%"}
    ],
}
RICH_ONLY = {
    "type": "message",
    "user": "U01ALICE",
    "text": "",
    "ts": "1700000006.000700",
    "blocks": [
        {
            "type": "rich_text",
            "elements": [
                {
                    "type": "rich_text_section",
                    "elements": [
                        {"type": "text", "text": "FCC pre-scan failed, "},
                        {"type": "user", "user_id": "U02BOB"},
                    ],
                }
            ],
        }
    ],
}
JOIN = {
    "type": "message",
    "subtype": "channel_join",
    "user": "U02BOB",
    "text": "<@U02BOB> has joined the channel",
    "ts": "1700000007.000800",
}
EDITED = {
    "type": "message",
    "user": "U02BOB",
    "text": "PO sent (edited)",
    "ts": "1700000008.000900",
    "edited": {"user": "U02BOB", "ts": "1700000009.000000"},
}
UNKNOWN = {
    "type": "message",
    "subtype": "huddle_thread",
    "user": "U02BOB",
    "text": "Huddle notes: customs hold",
    "ts": "1700000010.001000",
}
UNKNOWN_EMPTY = {"type": "message", "subtype": "sh_new_thing", "ts": "1700000011.001100"}


def _raw(*msgs: dict[str, Any] | str, channel: str = CHANNEL) -> pd.DataFrame:
    rows = []
    for i, msg in enumerate(msgs):
        if isinstance(msg, str):
            ts, payload, thread_ts = f"1700001000.{i:06d}", msg, None
        else:
            ts, payload, thread_ts = msg["ts"], json.dumps(msg), msg.get("thread_ts")
        rows.append(
            {
                "channel_id": channel,
                "ts": ts,
                "thread_ts": thread_ts,
                "timestamp": pd.Timestamp(float(ts), unit="s", tz="UTC"),
                "payload": payload,
                "source": "test",
            }
        )
    frame = pd.DataFrame(rows)
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    return frame


def _enrich(*msgs: dict[str, Any] | str, **kwargs: Any) -> EnrichResult:
    return enrich_messages(_raw(*msgs), USERS, CHANNELS, workspace_url=WORKSPACE, **kwargs)


def _row(result: EnrichResult, ts: str) -> dict[str, Any]:
    rows = result.frame[result.frame["ts"] == ts].to_dict("records")
    assert len(rows) == 1
    return rows[0]


ALL = (PLAIN, MENTIONS, PARENT, REPLY, BROADCAST, BOT, RICH_ONLY, JOIN, EDITED, UNKNOWN)


def test_output_has_the_contract_columns_in_order_and_valid_values() -> None:
    result = _enrich(*ALL)
    frame = result.frame
    assert tuple(frame.columns) == COLUMNS
    assert tuple(frame.columns[: len(CONTRACT_COLUMNS)]) == CONTRACT_COLUMNS
    assert len(frame) == len(ALL) - 1
    assert frame["id"].is_unique
    assert set(frame["urgency"]) <= set(LEVELS)
    assert set(frame["category"]) <= set(CATEGORIES)
    assert set(frame["message_type"]) <= set(MESSAGE_TYPES)
    assert frame["sentiment_score"].between(-1, 1).all()
    assert frame["priority_level"].between(1, 5).all()
    assert str(frame["timestamp"].dtype) == "datetime64[ns, UTC]"
    assert frame["priority_level"].dtype == "int64"
    for column in ("mentions", "reactions"):
        assert all(isinstance(json.loads(v), list) for v in frame[column])
    assert result.skipped == {"subtype:channel_join": 1, "unknown_subtype_kept:huddle_thread": 1}


@pytest.mark.parametrize(
    ("msg", "expected"),
    [
        (
            PLAIN,
            {
                "id": f"{CHANNEL}:1700000000.000100",
                "channel": "supply-chain",
                "user_id": "U02BOB",
                "user": "Bob Diaz",  # no display name: real name
                "content": "Morning all",
                "message_type": "message",
                "thread_ts": None,
                "is_reply": False,
                "parent_id": None,
                "urgency": "low",
                # The channel's name is the topic (supply-chain); priority reads the words alone.
                "category": "supply_chain",
                "priority_level": 1,
                "permalink": f"{WORKSPACE}archives/{CHANNEL}/p1700000000000100",
                "edited": False,
                "subtype": None,
                "is_bot": False,
            },
        ),
        (
            MENTIONS,
            {
                "user": "Alice Chen",
                "content": "@here @Bob Diaz TPS65219 PMIC is on allocation, lead time 52 weeks",
                "mentions": '["here", "U02BOB"]',
                "reactions": json.dumps(
                    [{"name": "rotating_light", "count": 1}, {"name": "eyes", "count": 2}]
                ),
                "urgency": "critical",
                "category": "supply_chain",
                "priority_level": 5,
            },
        ),
        (
            PARENT,
            {
                "thread_ts": "1700000002.000300",
                "message_type": "message",
                "is_reply": False,
                "parent_id": None,
                "reply_count": 6,
                "permalink": f"{WORKSPACE}archives/{CHANNEL}/p1700000002000300",
            },
        ),
        (
            REPLY,
            {
                "message_type": "reply",
                "is_reply": True,
                "parent_id": f"{CHANNEL}:1700000002.000300",
                "permalink": f"{WORKSPACE}archives/{CHANNEL}/p1700000003000400"
                f"?thread_ts=1700000002.000300&cid={CHANNEL}",
            },
        ),
        (BROADCAST, {"message_type": "broadcast", "is_reply": True, "user": "carol"}),
        (
            BOT,
            {
                "message_type": "bot",
                "is_bot": True,
                "user_id": "B01ALERTS",
                "user": "Yield Monitor",
                "content": "FPY alert\nSMT line 2 FPY fell to 88%",
                "category": "manufacturing_quality",
            },
        ),
        (
            RICH_ONLY,
            {
                "content": "FCC pre-scan failed, @Bob Diaz",
                "mentions": '["U02BOB"]',
                "category": "certification_compliance",
                "urgency": "high",
            },
        ),
        # "PO" is financial wording; in #supply-chain the channel's topic wins the tie.
        (EDITED, {"edited": True, "category": "supply_chain"}),
        (UNKNOWN, {"subtype": "huddle_thread", "content": "Huddle notes: customs hold"}),
    ],
)
def test_message_shapes(msg: dict[str, Any], expected: dict[str, Any]) -> None:
    row = _row(_enrich(msg), msg["ts"])
    assert {k: row[k] for k in expected} == expected
    assert row["content_hash"] == hashlib.sha256(row["content"].encode()).hexdigest()


def test_entities_column_is_a_dict_of_lists() -> None:
    row = _row(_enrich(MENTIONS), MENTIONS["ts"])
    entities = json.loads(row["entities"])
    assert entities["parts"] == ["TPS65219"]
    assert entities["components"] == ["PMIC"]
    assert all(isinstance(v, list) for v in entities.values())


def test_bots_are_dropped_and_counted_when_excluded() -> None:
    result = _enrich(PLAIN, BOT, include_bots=False)
    assert list(result.frame["ts"]) == [PLAIN["ts"]]
    assert result.skipped == {"bot": 1}


def test_bot_user_without_bot_id_is_a_bot() -> None:
    msg = {"type": "message", "user": "U04BOTUSER", "text": "nightly build ok", "ts": "1.2"}
    assert _row(_enrich(msg), "1.2")["message_type"] == "bot"


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ("{not json", "malformed_payload"),
        ('["a list"]', "malformed_payload"),
        ("null", "malformed_payload"),
        ('"just a string"', "malformed_payload"),
        (json.dumps(UNKNOWN_EMPTY), "empty"),
        (json.dumps({"type": "message", "text": "   "}), "empty"),
    ],
)
def test_bad_payloads_are_counted_not_raised(payload: str, reason: str) -> None:
    result = _enrich(PLAIN, payload)
    assert len(result.frame) == 1
    assert result.skipped == {reason: 1}


def test_a_50k_character_message_is_kept_whole() -> None:
    text = "PMIC shortage update. " + "x" * 50_000
    msg = {"type": "message", "user": "U01ALICE", "text": text, "ts": "1700000020.000001"}
    row = _row(_enrich(msg), msg["ts"])
    assert row["content"] == text
    assert row["category"] == "supply_chain"


def test_hostile_text_is_cleaned_not_executed() -> None:
    text = (
        "ok\x00\x1b[31m red &lt;script&gt;alert(1)&lt;/script&gt; \u202egnp.exe <@U99" + "<" * 500
    )
    msg = {"type": "message", "user": "U01ALICE", "text": text, "ts": "1700000021.000001"}
    content = _row(_enrich(msg), msg["ts"])["content"]
    assert "\x00" not in content and "\x1b" not in content and "\u202e" not in content
    assert "<script>alert(1)</script>" in content


def test_duplicate_keys_keep_the_last_row() -> None:
    newer = {**EDITED, "text": "PO sent, final"}
    result = _enrich(EDITED, newer)
    assert list(result.frame["content"]) == ["PO sent, final"]
    assert result.skipped == {"duplicate": 1}


def test_missing_timestamp_falls_back_to_ts() -> None:
    raw = _raw(PLAIN)
    raw["timestamp"] = pd.NaT
    frame = enrich_messages(raw, USERS, CHANNELS).frame
    assert frame["timestamp"].iloc[0] == pd.Timestamp("2023-11-14 22:13:20.0001", tz="UTC")
    assert frame["permalink"].iloc[0].startswith("https://slack.com/archives/")


def test_unknown_users_and_channels_fall_back_to_ids() -> None:
    msg = {"type": "message", "user": "U77", "text": "hi", "ts": "5.5"}
    raw = _raw(msg, channel="C99")
    row = enrich_messages(raw, pd.DataFrame(), pd.DataFrame()).frame.iloc[0]
    assert (row["user"], row["channel"]) == ("U77", "C99")


@pytest.mark.parametrize("raw", [None, pd.DataFrame(), _raw(PLAIN).iloc[0:0]])
def test_empty_input_gives_an_empty_frame_with_the_right_dtypes(raw: pd.DataFrame | None) -> None:
    result = enrich_messages(raw, USERS, CHANNELS)
    assert result.frame.empty
    assert tuple(result.frame.columns) == COLUMNS
    assert result.frame.dtypes.equals(empty_messages_frame().dtypes)
    assert result.skipped == {}


def test_only_skipped_rows_give_an_empty_frame_and_counts() -> None:
    result = _enrich(JOIN)
    assert result.frame.empty and tuple(result.frame.columns) == COLUMNS
    assert result.skipped == {"subtype:channel_join": 1}
