"""Polling new messages between hourly runs: pages, budgets, refused channels and the cursor."""

from datetime import UTC, datetime, timedelta

from digest_pipeline.defs.slack.poll import (
    POLL_PAGE_LIMIT,
    POLL_PAGES_PER_CHANNEL,
    HistoryPoll,
    parse_poll_cursor,
    poll_history,
)
from digest_pipeline.defs.slack.ts import datetime_to_ts
from digest_pipeline_tests.fakes.slack_chat import FakeChatWorkspace

NOW = datetime.now(UTC).replace(microsecond=0)


def _ts(minutes_ago: float) -> str:
    return datetime_to_ts(NOW - timedelta(minutes=minutes_ago))


def test_the_cursor_round_trips_and_an_unreadable_one_starts_over():
    poll = HistoryPoll({"C1": "1700000000.000100"}, 3)
    assert parse_poll_cursor(poll.cursor) == ({"C1": "1700000000.000100"}, 3)
    assert parse_poll_cursor(None) == ({}, 0)
    assert parse_poll_cursor("not json") == ({}, 0)
    assert parse_poll_cursor('{"latest": ["C1"]}') == ({}, 0)


def test_a_refused_channel_is_passed_over_and_the_next_one_still_read():
    workspace = FakeChatWorkspace()
    workspace.add_channel("C1", "manufacturing")
    new = _ts(2)
    workspace.post("C1", new, "SMT line 2 is down")
    channels = [("C0GONE", "deleted"), ("C1", "manufacturing")]
    poll = poll_history(workspace, channels, {}, offset=0, budget=8, now=NOW)
    assert [(channel, m["ts"]) for channel, m in poll.messages] == [("C1", new)]
    assert poll.polled == ["C0GONE", "C1"] and poll.latest["C1"] == new
    assert poll.calls == 1  # the refused call raised before it was counted


def test_a_burst_beyond_the_pages_of_one_tick_is_left_to_the_hourly_run():
    workspace = FakeChatWorkspace()
    workspace.add_channel("C1", "manufacturing")
    burst = POLL_PAGE_LIMIT * POLL_PAGES_PER_CHANNEL + 5
    for i in range(burst):
        workspace.post("C1", _ts(10 - i * 0.1), f"message {i}")
    poll = poll_history(workspace, [("C1", "manufacturing")], {}, offset=0, budget=8, now=NOW)
    assert poll.calls == POLL_PAGES_PER_CHANNEL
    assert len(poll.messages) == POLL_PAGE_LIMIT * POLL_PAGES_PER_CHANNEL
    assert poll.skipped_messages == 1
