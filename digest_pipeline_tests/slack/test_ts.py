from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from digest_pipeline.defs.slack.ts import (
    datetime_to_ts,
    is_message_ts,
    micros_to_ts,
    ts_date,
    ts_decimal,
    ts_micros,
    ts_to_datetime,
)

# Values no reader may take for a ts: wrong types, signs, exponents, blanks, stray characters,
# non-ASCII digits and a trailing newline (which ``re.match(r"...$")`` used to let through).
MALFORMED = [
    None,
    1700000000.5,
    1700000000,
    True,
    "",
    " ",
    "abc",
    "1700000000.",
    ".000100",
    "-1700000000.000100",
    "+1700000000.000100",
    "1.7e9",
    "NaN",
    "Infinity",
    "1700000000.000100 ",
    " 1700000000.000100",
    "1700000000.000100\n",
    "1700000000,000100",
    "1700000000.0001.5",
    "\u0661\u0667" + "\u0660" * 8 + ".\u0661",  # Arabic-Indic digits
]


@pytest.mark.parametrize("value", MALFORMED)
def test_every_reader_rejects_a_malformed_ts_with_a_value_error(value):
    for read in (ts_decimal, ts_micros, ts_to_datetime, ts_date):
        with pytest.raises(ValueError, match="not a Slack ts"):
            read(value)
    assert not is_message_ts(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1700000000.000100", True),
        ("1.1", True),
        ("999999999999.999999999", True),
        ("1700000000", False),  # a bound, not a message ts
        ("1234567890123.000100", False),  # past year 9999
        ("1700000000.0001000000", False),  # more sequence digits than Slack writes
    ],
)
def test_message_ts_shape(value, expected):
    assert is_message_ts(value) is expected


def test_a_bound_in_whole_seconds_is_read():
    assert ts_decimal("1700000000") == Decimal(1700000000)
    assert ts_micros("1700000000") == 1_700_000_000_000_000


def test_decimal_keeps_every_digit_a_float_would_lose():
    assert ts_decimal("1700000000.000101") > ts_decimal("1700000000.000100")
    assert float("1700000000.0000001") == float("1700000000.0000000")
    assert ts_decimal("1700000000.0000001") > ts_decimal("1700000000.0000000")


def test_micros_and_datetime_are_exact_to_the_microsecond():
    assert ts_micros("1700000000.000001") == 1_700_000_000_000_001
    assert ts_micros("1700000000.5") == 1_700_000_000_500_000
    assert ts_micros("1700000000.123456789") == 1_700_000_000_123_456  # past µs: dropped
    assert ts_to_datetime("1700000000.000100") == datetime(
        2023, 11, 14, 22, 13, 20, 100, tzinfo=UTC
    )
    assert ts_date("1700000000.000100") == date(2023, 11, 14)


@pytest.mark.parametrize("ts", ["0.000000", "1700000000.000001", "1772359200.999999"])
def test_ts_round_trips_through_datetime_and_micros(ts):
    assert datetime_to_ts(ts_to_datetime(ts)) == ts
    assert micros_to_ts(ts_micros(ts)) == ts


def test_writing_a_ts_pads_six_digits_and_honours_the_time_zone():
    assert micros_to_ts(1_700_000_000_000_100) == "1700000000.000100"
    plus_two = timezone(timedelta(hours=2))
    moment = datetime(2023, 11, 15, 0, 13, 20, 100, tzinfo=plus_two)
    assert datetime_to_ts(moment) == "1700000000.000100"


def test_writing_rejects_what_has_no_ts():
    with pytest.raises(ValueError, match="time-zone-aware"):
        datetime_to_ts(datetime(2023, 11, 14, 22, 13, 20))
    with pytest.raises(ValueError, match="before the epoch"):
        micros_to_ts(-1)
