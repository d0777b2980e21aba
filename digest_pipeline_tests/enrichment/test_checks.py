"""Great Expectations checks on ``messages``: each one fails on the bad data it is for.

GX takes seconds to import, so everything that runs it lives in this one module (one import per
test worker).
"""

import json
from datetime import UTC, datetime, timedelta

import dagster as dg
import pandas as pd
import pytest

from digest_pipeline.defs.enrichment.checks import (
    ASSET,
    CHECK_NAMES,
    messages_quality_checks,
    messages_quality_sensor,
    validate_messages,
)
from digest_pipeline.defs.enrichment.enrich import enrich_messages
from digest_pipeline.defs.partitions import hourly_partitions

HOUR = "2026-03-10-15:00"
START = datetime(2026, 3, 10, 15, tzinfo=UTC)
END = START + timedelta(hours=1)
TEXTS = [
    "TPS65219 PMIC is on allocation, lead time 52 weeks <!here>",
    "FCC pre-scan failed at 3.2 dB over the limit on the 2.4 GHz band",
    "Morning all :wave:",
    "Line 3 is back up, yield 98.7% on the last lot",
]


def _good_frame() -> pd.DataFrame:
    rows = []
    for i, text in enumerate(TEXTS):
        moment = START + timedelta(minutes=10 * i, seconds=1)
        ts = f"{int(moment.timestamp())}.{i:06d}"
        payload = {"type": "message", "user": "U01ALICE", "text": text, "ts": ts}
        rows.append(
            {
                "channel_id": "C01SUPPLY",
                "ts": ts,
                "thread_ts": None,
                "timestamp": moment,
                "payload": json.dumps(payload),
            }
        )
    frame = enrich_messages(pd.DataFrame(rows), None, None).frame
    assert len(frame) == len(TEXTS)
    return frame


def _duplicate_id(frame: pd.DataFrame) -> pd.DataFrame:
    frame.loc[1, "id"] = frame.loc[0, "id"]
    return frame


def _null_key(frame: pd.DataFrame) -> pd.DataFrame:
    frame["channel_id"] = frame["channel_id"].astype(object)
    frame.loc[2, "channel_id"] = None
    return frame


def _bad_urgency(frame: pd.DataFrame) -> pd.DataFrame:
    frame.loc[0, "urgency"] = "urgent"
    return frame


def _bad_category(frame: pd.DataFrame) -> pd.DataFrame:
    frame.loc[1, "category"] = "supply chain"
    return frame


def _bad_message_type(frame: pd.DataFrame) -> pd.DataFrame:
    frame.loc[1, "message_type"] = "thread_reply"
    return frame


def _bad_priority(frame: pd.DataFrame) -> pd.DataFrame:
    frame.loc[3, "priority_level"] = 7
    return frame


def _sentiment_too_high(frame: pd.DataFrame) -> pd.DataFrame:
    frame.loc[0, "sentiment_score"] = 1.5
    return frame


def _sentiment_missing(frame: pd.DataFrame) -> pd.DataFrame:
    frame.loc[0, "sentiment_score"] = float("nan")
    return frame


def _timestamp_before(frame: pd.DataFrame) -> pd.DataFrame:
    frame.loc[0, "timestamp"] = START - timedelta(seconds=1)
    return frame


def _timestamp_at_end(frame: pd.DataFrame) -> pd.DataFrame:
    frame.loc[3, "timestamp"] = END  # the window is [start, end)
    return frame


BAD_DATA = [
    ("ids_unique", _duplicate_id),
    ("keys_not_null", _null_key),
    ("enumerations_valid", _bad_urgency),
    ("enumerations_valid", _bad_category),
    ("enumerations_valid", _bad_message_type),
    ("enumerations_valid", _bad_priority),
    ("sentiment_in_range", _sentiment_too_high),
    ("sentiment_in_range", _sentiment_missing),
    ("timestamps_in_window", _timestamp_before),
    ("timestamps_in_window", _timestamp_at_end),
]


def test_every_check_passes_on_enriched_messages():
    outcomes = validate_messages(_good_frame(), START, END)
    assert set(outcomes) == set(CHECK_NAMES)
    assert {name: o.passed for name, o in outcomes.items()} == dict.fromkeys(CHECK_NAMES, True)
    assert all(o.metadata["rows"] == len(TEXTS) for o in outcomes.values())


def test_checks_pass_on_an_empty_partition():
    empty = _good_frame().iloc[:0]
    assert all(o.passed for o in validate_messages(empty, START, END).values())


@pytest.mark.parametrize(
    ("failing", "corrupt"), BAD_DATA, ids=[corrupt.__name__[1:] for _, corrupt in BAD_DATA]
)
def test_exactly_the_right_check_fails_on_bad_data(failing, corrupt):
    outcomes = validate_messages(corrupt(_good_frame()), START, END)
    assert {name for name, o in outcomes.items() if not o.passed} == {failing}
    assert outcomes[failing].metadata["unexpected"] >= 1
    sample = [
        value
        for e in outcomes[failing].metadata["expectations"]
        for value in e.get("unexpected_sample", [])
    ]
    assert sample or failing == "keys_not_null"  # GX lists nulls as None


def test_a_missing_column_fails_its_check_instead_of_raising():
    outcomes = validate_messages(_good_frame().drop(columns=["sentiment_score"]), START, END)
    assert not outcomes["sentiment_in_range"].passed
    assert outcomes["ids_unique"].passed
    errors = [e.get("error") for e in outcomes["sentiment_in_range"].metadata["expectations"]]
    assert any(errors)


def _run_checks(frame: pd.DataFrame, tmp_path) -> dict[str, dg.AssetCheckEvaluation]:
    """Materialize a stand-in ``messages`` partition holding ``frame``, with the real checks."""

    @dg.asset(name="messages", partitions_def=hourly_partitions)
    def stand_in() -> pd.DataFrame:
        return frame

    result = dg.materialize(
        [stand_in, messages_quality_checks],
        partition_key=HOUR,
        resources={"io_manager": dg.FilesystemIOManager(base_dir=str(tmp_path))},
        raise_on_error=False,
    )
    assert result.success  # a failed check is a result, not a failed run
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def test_the_dagster_checks_fail_on_bad_data_and_record_the_partition(tmp_path):
    bad = _timestamp_before(_sentiment_too_high(_duplicate_id(_good_frame())))
    evaluations = _run_checks(bad, tmp_path)
    assert set(evaluations) == set(CHECK_NAMES)
    assert {name for name, e in evaluations.items() if not e.passed} == {
        "ids_unique",
        "sentiment_in_range",
        "timestamps_in_window",
    }
    failed = evaluations["timestamps_in_window"]
    assert failed.severity == dg.AssetCheckSeverity.ERROR
    assert failed.partition == HOUR
    assert failed.metadata["window_start"].value == START.isoformat()


def test_the_dagster_checks_pass_on_good_data(tmp_path):
    evaluations = _run_checks(_good_frame(), tmp_path)
    assert all(e.passed for e in evaluations.values())
    assert all(e.asset_key == ASSET for e in evaluations.values())


def test_the_sensor_requests_one_check_run_per_new_hour():
    instance = dg.DagsterInstance.ephemeral()
    instance.report_runless_asset_event(dg.AssetMaterialization(ASSET, partition=HOUR))
    first = messages_quality_sensor(dg.build_sensor_context(instance=instance))
    assert not first.run_requests and first.cursor  # starts after what already exists
    for hour in ("2026-03-10-16:00", "2026-03-10-17:00"):
        instance.report_runless_asset_event(dg.AssetMaterialization(ASSET, partition=hour))
    second = messages_quality_sensor(
        dg.build_sensor_context(instance=instance, cursor=first.cursor)
    )
    assert [r.tags["dagster/partition"] for r in second.run_requests] == [
        "2026-03-10-16:00",
        "2026-03-10-17:00",
    ]
    third = messages_quality_sensor(
        dg.build_sensor_context(instance=instance, cursor=second.cursor)
    )
    assert not third.run_requests and third.cursor == second.cursor
