"""The partitions are the one reader of DIGEST_TIMEZONE and DIGEST_START_DATE."""

import pytest

from digest_pipeline.defs.partitions import read_start_date, read_timezone
from digest_pipeline.settings import ConfigError


def test_unset_the_day_is_utc_and_starts_on_the_documented_date():
    assert read_timezone({}) == "UTC"
    assert read_start_date({}) == "2026-01-01"
    assert read_timezone({"DIGEST_TIMEZONE": ""}) == "UTC"  # an empty line in .env is unset


def test_a_zone_and_a_start_date_are_taken_as_given():
    env = {"DIGEST_TIMEZONE": "America/Los_Angeles", "DIGEST_START_DATE": "2025-11-03"}
    assert (read_timezone(env), read_start_date(env)) == ("America/Los_Angeles", "2025-11-03")


@pytest.mark.parametrize(
    ("read", "env", "name"),
    [
        (read_timezone, {"DIGEST_TIMEZONE": "Mars/Olympus"}, "DIGEST_TIMEZONE"),
        (read_timezone, {"DIGEST_TIMEZONE": "../etc/passwd"}, "DIGEST_TIMEZONE"),
        (read_start_date, {"DIGEST_START_DATE": "2026-13-01"}, "DIGEST_START_DATE"),
        (read_start_date, {"DIGEST_START_DATE": "January 1st"}, "DIGEST_START_DATE"),
    ],
)
def test_bad_values_fail_with_one_line_naming_the_variable(read, env, name):
    with pytest.raises(ConfigError) as excinfo:
        read(env)
    message = str(excinfo.value)
    assert name in message and "\n" not in message
