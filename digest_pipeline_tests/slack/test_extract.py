"""The extraction planner through the real slack_sdk WebClient against the fake Slack server."""

from datetime import UTC, datetime, timedelta

import pytest

from digest_pipeline.defs.slack.api import WebApi
from digest_pipeline.defs.slack.extract import (
    NO_IDENTITY,
    AppIdentity,
    ChannelSelection,
    Window,
    extract_window,
)
from digest_pipeline.defs.slack.models import SlackCallError
from digest_pipeline.defs.slack.ts import datetime_to_ts, ts_to_datetime
from digest_pipeline_tests.fakes.slack_server import FakeSlackServer, FakeWorkspace

TOKEN = "xoxb-test-token"
DAY0 = datetime(2026, 3, 1, tzinfo=UTC)
HOUR = Window(DAY0 + timedelta(days=5, hours=10), DAY0 + timedelta(days=5, hours=11))


def ts_at(moment: datetime, micro: int = 0) -> str:
    return f"{int(moment.timestamp())}.{micro:06d}"


@pytest.fixture
def workspace() -> FakeWorkspace:
    ws = FakeWorkspace()
    ws.add_channel("C1", "supply-chain")
    ws.add_channel("C2", "exec", is_private=True, is_member=False)
    ws.add_user("U1", "priya")
    return ws


def _extract(ws: FakeWorkspace, window: Window = HOUR, **kwargs):
    with FakeSlackServer(ws, token=TOKEN) as srv:
        api = WebApi(TOKEN, srv.base_url, sleep=lambda s: None)
        result = extract_window(api, ["C1", "C2"], window, **kwargs)
        return result, srv


def test_messages_in_the_window_are_extracted_once_with_exact_ts(workspace):
    inside = ts_at(HOUR.start, 123456)
    workspace.post("C1", ts_at(HOUR.start - timedelta(seconds=1)), "before")
    workspace.post("C1", inside, "inside")
    workspace.post("C1", ts_at(HOUR.end), "at the end: next hour")
    result, _ = _extract(workspace)
    assert [m.ts for m in result.messages] == [inside]
    assert result.messages[0].timestamp == ts_to_datetime(inside)


def test_a_late_reply_to_an_old_thread_is_found_with_one_replies_call(workspace):
    old_parent = ts_at(HOUR.start - timedelta(days=3))
    workspace.post("C1", old_parent, "EOL notice on the PMIC")
    workspace.post(
        "C1", ts_at(HOUR.start - timedelta(days=3), 500), "reply the same day", thread_ts=old_parent
    )
    # Many old threads whose replies did not move: they must not cost a replies call each.
    for day in range(1, 10):
        parent = ts_at(HOUR.start - timedelta(days=day, hours=1))
        workspace.post("C1", parent, f"old thread {day}")
        workspace.post(
            "C1", ts_at(HOUR.start - timedelta(days=day, minutes=30)), "old reply", thread_ts=parent
        )
    late = ts_at(HOUR.start + timedelta(minutes=7))
    workspace.post(
        "C1", late, "Update: supplier confirms last-time-buy by Friday", thread_ts=old_parent
    )
    result, srv = _extract(workspace, lookback=timedelta(days=14))
    assert [m.ts for m in result.messages] == [late]
    assert result.messages[0].thread_ts == old_parent
    assert result.moved_threads == 1
    assert srv.calls("conversations.replies") == 1


def test_replies_older_than_the_lookback_are_not_searched(workspace):
    old_parent = ts_at(HOUR.start - timedelta(days=20))
    workspace.post("C1", old_parent, "ancient thread")
    workspace.post(
        "C1", ts_at(HOUR.start + timedelta(minutes=1)), "necro reply", thread_ts=old_parent
    )
    result, srv = _extract(workspace, lookback=timedelta(days=14))
    assert result.messages == []
    assert srv.calls("conversations.replies") == 0


def test_a_thread_broadcast_is_stored_once(workspace):
    parent = ts_at(HOUR.start + timedelta(minutes=1))
    workspace.post("C1", parent, "Customs hold on the Shenzhen shipment")
    workspace.post("C1", ts_at(HOUR.start + timedelta(minutes=2)), "broker on it", thread_ts=parent)
    workspace.post(
        "C1",
        ts_at(HOUR.start + timedelta(minutes=3)),
        "released!",
        thread_ts=parent,
        broadcast=True,
    )
    result, _ = _extract(workspace)
    keys = [(m.channel_id, m.ts) for m in result.messages]
    assert len(keys) == len(set(keys)) == 3


def test_long_threads_and_histories_paginate(workspace):
    parent = ts_at(HOUR.start)
    workspace.post("C1", parent, "yield excursion on line 3")
    for i in range(1, 40):
        workspace.post(
            "C1", ts_at(HOUR.start + timedelta(seconds=i)), f"reply {i}", thread_ts=parent
        )
    for i in range(40, 70):
        workspace.post("C1", ts_at(HOUR.start + timedelta(seconds=i)), f"message {i}")
    result, srv = _extract(workspace, page_limit=7)
    assert len(result.messages) == 70
    assert srv.calls("conversations.history") > 4
    assert srv.calls("conversations.replies") > 4


def test_edits_and_deletes_show_on_re_extraction(workspace):
    a = ts_at(HOUR.start + timedelta(minutes=1))
    b = ts_at(HOUR.start + timedelta(minutes=2))
    workspace.post("C1", a, "lead time is 12 weeks")
    workspace.post("C1", b, "oops wrong channel")
    first, _ = _extract(workspace)
    assert len(first.messages) == 2
    workspace.edit("C1", a, "lead time is now 52 weeks")
    workspace.delete("C1", b)
    second, _ = _extract(workspace)
    assert [(m.ts, m.payload["text"]) for m in second.messages] == [
        (a, "lead time is now 52 weeks")
    ]


def test_an_unreadable_channel_is_skipped_and_recorded(workspace):
    workspace.post("C1", ts_at(HOUR.start), "hello")
    result, _ = _extract(workspace)
    assert result.skipped_channels == {"C2": "not_in_channel"}
    assert result.channels_read == 1


def test_a_bad_token_stops_the_run():
    ws = FakeWorkspace()
    ws.add_channel("C1", "supply-chain")
    with FakeSlackServer(ws, token=TOKEN) as srv:
        api = WebApi("xoxb-wrong", srv.base_url, sleep=lambda s: None)
        with pytest.raises(SlackCallError) as excinfo:
            extract_window(api, ["C1"], HOUR)
    assert excinfo.value.is_auth_error
    assert "xoxb-wrong" not in str(excinfo.value)


@pytest.mark.parametrize(
    ("channel", "reason"),
    [
        ({"id": "C1", "name": "a", "is_member": True}, None),
        ({"id": "C1", "name": "a", "is_member": False}, "not_in_channel"),
        ({"id": "C1", "name": "a", "is_member": True, "is_archived": True}, "archived"),
    ],
)
def test_channel_selection_defaults(channel, reason):
    assert ChannelSelection().skip_reason(channel) == reason


def test_channel_selection_by_name_or_id():
    selection = ChannelSelection(include=("supply-chain", "C9"), exclude=("C9",))
    assert selection.skip_reason({"id": "C1", "name": "supply-chain", "is_member": True}) is None
    assert (
        selection.skip_reason({"id": "C2", "name": "random", "is_member": True}) == "not_selected"
    )
    assert selection.skip_reason({"id": "C9", "name": "x", "is_member": True}) == "excluded"


@pytest.mark.parametrize("ts", ["1772359200.000001", "1772359200.999999", "1772359201.100000"])
def test_ts_round_trips_exactly(ts):
    assert datetime_to_ts(ts_to_datetime(ts)) == ts


def test_one_history_sweep_of_large_pages_covers_the_lookback_and_the_window(workspace):
    for day in range(1, 14):
        for i in range(20):
            workspace.post("C1", ts_at(HOUR.start - timedelta(days=day, minutes=i)), "old")
    workspace.post("C1", ts_at(HOUR.start + timedelta(minutes=1)), "new")
    with FakeSlackServer(workspace, token=TOKEN) as srv:
        api = WebApi(TOKEN, srv.base_url, sleep=lambda s: None)
        result = extract_window(api, ["C1"], HOUR, lookback=timedelta(days=14))
        history = [r for r in srv.requests if r.method == "conversations.history"]
    assert [m.payload["text"] for m in result.messages] == ["new"]
    assert result.lookback_messages_scanned == 13 * 20
    assert len(history) == 1
    assert history[0].params["limit"] == "999"
    assert history[0].params["oldest"] == datetime_to_ts(HOUR.start - timedelta(days=14))


def test_a_thread_answered_only_after_the_window_adds_nothing(workspace):
    parent = ts_at(HOUR.start - timedelta(days=2))
    workspace.post("C1", parent, "RMA rate up on batch 12")
    workspace.post("C1", ts_at(HOUR.end + timedelta(minutes=3)), "after", thread_ts=parent)
    result, srv = _extract(workspace)
    # Its latest_reply is past the window, so it may hold a reply inside it: asked, none found.
    assert result.messages == []
    assert srv.calls("conversations.replies") == 1


def test_channel_reads_record_ok_and_the_failing_method(workspace):
    workspace.post("C1", ts_at(HOUR.start), "hello")
    result, _ = _extract(workspace)
    assert [(r.channel_id, r.status, r.method, r.messages) for r in result.reads] == [
        ("C1", "ok", None, 1),
        ("C2", "not_in_channel", "conversations.history", 0),
    ]


OWN = AppIdentity.from_auth_test({"user_id": "U0BOT", "bot_id": "B0BOT", "app_id": "A0BOT"})


def test_own_posts_and_every_reply_in_their_threads_are_marked_other_bots_are_not(workspace):
    # A digest posted yesterday (inside the look-back) whose thread moved into the window, one
    # posted in the window, and another integration's alert: only the app's own are marked.
    old_digest = ts_at(HOUR.start - timedelta(days=1))
    workspace.post("C1", old_digest, "Daily digest: 3 critical risks", user="U0BOT", bot_id="B0BOT")
    late = workspace.post(
        "C1", ts_at(HOUR.start, 1), "line 3 is still down", thread_ts=old_digest, user="U1"
    )
    late.pop("parent_user_id")  # not every payload names the parent: the thread still does
    digest = ts_at(HOUR.start, 2)
    workspace.post("C1", digest, "Hourly digest", user="U9", bot_id="B9", app_id="A0BOT")
    workspace.post("C1", ts_at(HOUR.start, 3), "thanks", thread_ts=digest, user="U1")
    mes = ts_at(HOUR.start, 4)
    workspace.post("C1", mes, "MES: line 3 down", user="U0MES", bot_id="B0MES", app_id="A0MES")
    workspace.post("C1", ts_at(HOUR.start, 5), "on it", thread_ts=mes, user="U1")

    result, _ = _extract(workspace, lookback=timedelta(days=2), own=OWN)

    marked = {m.payload["text"]: m.own for m in result.messages}
    assert marked == {
        "line 3 is still down": True,  # a reply to the app's post of yesterday
        "Hourly digest": True,  # known by its app ID alone
        "thanks": True,
        "MES: line 3 down": False,
        "on it": False,
    }
    assert result.own_posts == 3
    assert [r.as_row("slack", HOUR.end)["is_own_post"] for r in result.messages] == [
        True,
        True,
        True,
        False,
        False,
    ]


def test_without_an_identity_nothing_is_own(workspace):
    workspace.post("C1", ts_at(HOUR.start, 1), "Hourly digest", user="U0BOT", bot_id="B0BOT")
    result, _ = _extract(workspace)
    assert [m.own for m in result.messages] == [False]
    assert not NO_IDENTITY.known and result.own_posts == 0


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"user_id": "U0BOT", "bot_id": "B0BOT"}, AppIdentity("U0BOT", "B0BOT", None)),
        ({"user_id": "U0BOT", "app_id": "A0BOT"}, AppIdentity("U0BOT", None, "A0BOT")),
        # Malformed IDs are not trusted: they would match nothing or anything.
        ({"user_id": "", "bot_id": None, "app_id": 7}, NO_IDENTITY),
        ({"user_id": "u0bot", "bot_id": "B" * 40, "app_id": "A 1"}, NO_IDENTITY),
    ],
)
def test_the_identity_is_read_from_auth_test_and_validated(body, expected):
    assert AppIdentity.from_auth_test({"ok": True, **body}) == expected
