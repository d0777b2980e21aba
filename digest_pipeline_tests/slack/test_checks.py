"""``reply_coverage``: which threads are due to be complete, and what counts as missing."""

from datetime import UTC, datetime, timedelta

import pandas as pd

from digest_pipeline.defs.slack.checks import reply_coverage

H0 = datetime(2026, 3, 5, 10, tzinfo=UTC)
LOOKBACK = timedelta(days=14)


def ts_at(moment: datetime) -> str:
    return f"{int(moment.timestamp())}.000100"


def thread(channel: str, parent: datetime, latest: datetime, advertised: int, stored: int) -> dict:
    return {
        "channel_id": channel,
        "ts": ts_at(parent),
        "reply_count": advertised,
        "latest_reply": ts_at(latest),
        "stored": stored,
    }


def hours(first: datetime, count: int) -> list[datetime]:
    return [first + timedelta(hours=i) for i in range(count)]


def test_a_complete_thread_passes_and_is_counted_per_channel() -> None:
    frame = pd.DataFrame([thread("C1", H0, H0 + timedelta(hours=2), 3, 3)])

    report = reply_coverage(frame, hours(H0, 3), LOOKBACK)

    assert report.missing == 0
    assert report.channels["C1"].threads_checked == 1
    assert report.channels["C1"].replies_advertised == 3


def test_missing_replies_are_counted_when_every_hour_of_the_thread_was_extracted() -> None:
    frame = pd.DataFrame(
        [thread("C1", H0, H0 + timedelta(hours=1), 4, 1), thread("C2", H0, H0, 2, 2)]
    )

    report = reply_coverage(frame, hours(H0, 2), LOOKBACK)

    assert report.missing == 3
    assert report.channels["C1"].threads_incomplete == 1
    assert report.channels["C2"].replies_missing == 0
    assert report.incomplete == [("C1", ts_at(H0), 4, 1)]


def test_replies_in_hours_not_extracted_are_not_due() -> None:
    gap = hours(H0, 5)
    del gap[2]  # 12:00 never extracted
    frame = pd.DataFrame(
        [
            thread("C1", H0, H0 + timedelta(hours=4), 5, 2),  # spans the gap
            thread("C1", H0, H0 + timedelta(hours=9), 5, 2),  # ends after the extracted range
        ]
    )

    report = reply_coverage(frame, gap, LOOKBACK)

    assert report.missing == 0
    assert report.channels["C1"].not_due == 2
    assert report.checked == 0


def test_threads_answered_after_the_lookback_are_not_verifiable() -> None:
    late = H0 + timedelta(days=20)
    frame = pd.DataFrame([thread("C1", H0, late, 2, 1)])

    report = reply_coverage(frame, hours(H0, 24 * 21), LOOKBACK)

    assert report.missing == 0
    assert report.channels["C1"].beyond_lookback == 1


def test_more_stored_than_advertised_is_not_a_gap() -> None:
    # A reply deleted after its hour was stored, before the parent's hour was re-extracted.
    frame = pd.DataFrame([thread("C1", H0, H0, 1, 2)])

    assert reply_coverage(frame, hours(H0, 1), LOOKBACK).missing == 0
