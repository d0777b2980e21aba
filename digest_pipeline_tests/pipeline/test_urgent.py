"""Urgent-message sensor ticks with build_sensor_context: run requests, run keys, cursors."""

import json
from datetime import UTC, datetime, timedelta

import dagster as dg
import pandas as pd
import pytest

from digest_pipeline.defs.pipeline.urgent import (
    read_candidate,
    urgent_message_sensor,
    urgent_messages,
    urgent_signals,
)
from digest_pipeline.defs.risk.store import RiskModelStore
from digest_pipeline.defs.slack.assets import CHANNELS_SCHEMA
from digest_pipeline.defs.slack.resources import SlackSource
from digest_pipeline.defs.slack.ts import datetime_to_ts
from digest_pipeline.defs.storage.schema import column_names
from digest_pipeline.defs.storage.warehouse import Warehouse
from digest_pipeline_tests.fakes.slack_chat import FakeChatWorkspace
from digest_pipeline_tests.fakes.slack_server import FakeSlackServer


def _now() -> datetime:
    # Read when a test posts, not when the module is imported: under load, a session fixture
    # (training the risk model) can take longer than the sensor's look-back.
    return datetime.now(UTC).replace(microsecond=0)


class NoWaitSlackSource(SlackSource):
    """The real resource; its Web API client paces calls without sleeping."""

    def open_api(self, **_: object):  # type: ignore[override]
        return super().open_api(sleep=lambda _s: None)


def _ts(minutes_ago: float) -> str:
    return datetime_to_ts(_now() - timedelta(minutes=minutes_ago))


@pytest.fixture
def workspace() -> FakeChatWorkspace:
    ws = FakeChatWorkspace()
    ws.add_channel("C1", "manufacturing")
    ws.add_channel("C2", "random")
    ws.add_channel("C3", "quiet", topic="[no-digest]")
    ws.add_user("U001", "raj")
    return ws


@pytest.fixture
def sensor_resources(tmp_path, risk_model_dir):
    """The warehouse (empty: channels are listed from Slack) and the trained risk model."""
    return {
        "warehouse": Warehouse(duckdb_path=str(tmp_path / "sensor" / "w.duckdb")),
        "risk_model_store": RiskModelStore(model_dir=risk_model_dir),
    }


def _tick(server: FakeSlackServer, resources: dict, cursor: str | None = None, **source: object):
    slack = NoWaitSlackSource(kind="slack", token="xoxb-test", base_url=server.base_url, **source)
    context = dg.build_sensor_context(cursor=cursor, resources={"slack": slack, **resources})
    return urgent_message_sensor(context)


@pytest.mark.parametrize(
    ("level", "loud", "signals"),
    [
        ("critical", (), ("critical text",)),
        ("critical", ("@here",), ("critical text", "@here")),
        ("high", ("@here",), ("@here",)),
        ("medium", (":rotating_light:",), (":rotating_light:",)),
        ("high", (), ()),
        ("low", ("@here", ":fire:"), ()),  # "@here cake in the kitchen" re-runs nothing
    ],
)
def test_urgent_signals(level, loud, signals):
    assert urgent_signals(level, loud) == signals


def test_a_candidate_carries_broadcasts_and_alarm_reactions():
    message = {
        "ts": "1.0",
        "text": "<!here> yield dropped to 80%",
        "reactions": [{"name": "rotating_light"}, {"name": "thumbsup"}],
    }
    candidate = read_candidate("C1", message)
    assert candidate.loud == ("@here", ":rotating_light:")
    assert "yield dropped" in candidate.text
    assert read_candidate("C1", {"ts": "2.0", "text": "x", "subtype": "channel_join"}) is None


def test_the_sensor_skips_the_housekeeping_the_enrichment_drops():
    # A deleted message's tombstone or a pin saying "<!here>" is not news: the sensor and the
    # enrichment read one list of housekeeping subtypes.
    for subtype in ("tombstone", "pinned_item", "message_deleted", "bot_add"):
        message = {"ts": "3.0", "text": "<!here> line down", "subtype": subtype}
        assert read_candidate("C1", message) is None, subtype
    assert read_candidate("C1", {"ts": "4.0", "text": "<!here> line down", "subtype": "me_message"})


def test_an_urgent_message_requests_its_hour_once_and_the_cursor_moves(workspace, sensor_resources):
    urgent_ts, routine_ts = _ts(2), _ts(1)
    workspace.post("C1", urgent_ts, "SMT line 2 is down, production stopped, all units on hold")
    workspace.post("C2", routine_ts, "anyone up for lunch?")
    workspace.post("C3", _ts(1.5), "Line down!!! <!here>")  # opted out: never polled
    with FakeSlackServer(workspace) as server:
        first = _tick(server, sensor_resources)
        assert [r.run_key for r in first.run_requests] == [f"urgent:C1:{urgent_ts}"]
        request = first.run_requests[0]
        hour = datetime.fromtimestamp(int(urgent_ts.split(".")[0]), UTC)
        assert request.partition_key == hour.strftime("%Y-%m-%d-%H:00")
        assert request.tags["digest/signals"] == "critical text"
        cursor = json.loads(first.cursor)
        assert cursor["latest"] == {"C1": urgent_ts, "C2": routine_ts}
        # Nothing new: no request, same positions.
        second = _tick(server, sensor_resources, first.cursor)
        assert second.run_requests == [] and json.loads(second.cursor)["latest"] == cursor["latest"]
        # A new urgent message: only it.
        later = _ts(0.5)
        workspace.post("C2", later, "<!channel> customs hold on the Osprey shipment, 60k units")
        third = _tick(server, sensor_resources, second.cursor)
        assert [r.run_key for r in third.run_requests] == [f"urgent:C2:{later}"]
        assert json.loads(third.cursor)["latest"]["C2"] == later
        history = [r for r in server.requests if r.method == "conversations.history"]
        assert {r.params["limit"] for r in history} == {"15"}  # small pages
        assert "C3" not in {r.params["channel"] for r in history}


def test_the_apps_own_posts_never_request_a_run_other_bots_do(workspace):
    # The app posts a digest into a polled channel (chat.postMessage: it comes back in history
    # with the app's user, bot and app IDs); someone flags it; a reply in its thread is
    # broadcast; the MES bot posts an alert. Judged by the rules, as before a first model.
    from digest_pipeline.defs.slack.api import WebApi
    from digest_pipeline.defs.slack.extract import NO_IDENTITY, app_identity
    from digest_pipeline.defs.slack.poll import poll_history

    text = "Hourly digest: SMT line 2 is down, production stopped, all units on hold"
    with FakeSlackServer(workspace) as server:
        api = WebApi("xoxb-test", server.base_url, sleep=lambda _s: None)
        now = _now()
        workspace.base_ts = int((now - timedelta(minutes=3)).timestamp())
        posted = api.call("chat.postMessage", {"channel": "C1", "text": text})
        digest_ts = posted["ts"]
        workspace.posts[("C1", digest_ts)]["reactions"] = [{"name": "rotating_light", "count": 1}]
        broadcast = _ts(2)
        workspace.post(
            "C1", broadcast, "<!here> line 2 still down, customer escalation", user="U001",
            thread_ts=digest_ts, broadcast=True,
        )  # fmt: skip
        mes = _ts(1)
        workspace.post("C1", mes, "MES: SMT line 4 is down, production stopped", user="U0MES",
                       bot_id="B0MES", app_id="A0MES", subtype="bot_message")  # fmt: skip

        def poll(own):
            return poll_history(
                api, [("C1", "manufacturing")], {}, offset=0, budget=2, now=now, own=own
            )

        blind = poll(NO_IDENTITY)
        own = app_identity(api)
        seeing = poll(own)
    assert own.user_id == "U0BOT" and own.bot_id == "B0BOT"
    # Without knowing itself, the sensor re-runs on its own digest and the reply in its thread.
    assert {u.ts for u in urgent_messages(blind)} == {digest_ts, broadcast, mes}
    assert [u.ts for u in urgent_messages(seeing)] == [mes]
    assert seeing.own_posts == 2
    assert seeing.latest["C1"] == blind.latest["C1"]  # read past, so never polled again


def test_the_first_tick_looks_back_only_minutes(workspace, sensor_resources):
    workspace.post("C1", _ts(120), "SMT line 2 is down, production stopped")
    with FakeSlackServer(workspace) as server:
        result = _tick(server, sensor_resources)
    assert result.run_requests == []


def test_the_call_budget_rotates_through_channels(workspace, sensor_resources):
    for i in range(4, 14):
        workspace.add_channel(f"C{i:02d}", f"chan-{i}")
    with FakeSlackServer(workspace) as server:
        first = _tick(server, sensor_resources)
        calls = server.calls("conversations.history")
        cursor = json.loads(first.cursor)
        second = _tick(server, sensor_resources, first.cursor)
        polled_again = server.calls("conversations.history") - calls
    assert calls == 8 and polled_again == 8  # POLL_CALLS_PER_TICK for tier3
    assert cursor["offset"] == 8
    assert len(json.loads(second.cursor)["latest"]) == 12  # C1, C2, C04..C13: all read


def test_the_strict_rate_tier_does_not_poll(workspace, sensor_resources):
    with FakeSlackServer(workspace) as server:
        result = _tick(server, sensor_resources, rate_tier="strict")
        assert server.calls() == 0
    assert "no budget" in result.skip_reason.skip_message


def test_the_channels_come_from_the_last_slack_channels_run_not_a_listing(
    workspace, sensor_resources
):
    urgent_ts = _ts(2)
    workspace.post("C1", urgent_ts, "SMT line 2 is down, production stopped, all units on hold")
    workspace.post("C2", _ts(1), "SMT line 3 is down too, production stopped, no output")
    channels = [
        dict.fromkeys(column_names(CHANNELS_SCHEMA))
        | {"channel_id": c, "name": n, "selected": sel, "topic": "", "purpose": ""}
        for c, n, sel in (("C1", "manufacturing", True), ("C2", "random", False))
    ]
    sensor_resources["warehouse"].replace_rows(
        "slack_channels", pd.DataFrame(channels), key=["channel_id"], schema=CHANNELS_SCHEMA
    )
    with FakeSlackServer(workspace) as server:
        result = _tick(server, sensor_resources)
        assert server.calls("conversations.list") == 0
        assert server.calls("conversations.history") == 1  # C1 only: C2 is not selected
    assert [r.run_key for r in result.run_requests] == [f"urgent:C1:{urgent_ts}"]


def test_before_the_first_model_the_rules_judge(workspace, tmp_path):
    urgent_ts = _ts(2)
    workspace.post("C1", urgent_ts, "SMT line 2 is down, production stopped, all units on hold")
    resources = {
        "warehouse": Warehouse(duckdb_path=str(tmp_path / "w.duckdb")),
        "risk_model_store": RiskModelStore(model_dir=str(tmp_path / "no-models-yet")),
    }
    with FakeSlackServer(workspace) as server:
        result = _tick(server, resources)
    assert [r.run_key for r in result.run_requests] == [f"urgent:C1:{urgent_ts}"]
    assert not (tmp_path / "no-models-yet").exists()  # a tick never trains


def test_the_demo_workspace_can_be_polled(sensor_resources):
    context = dg.build_sensor_context(
        resources={"slack": SlackSource(kind="demo"), **sensor_resources}
    )
    result = urgent_message_sensor(context)
    # 8 history calls a tick, at most 2 pages a channel: at least the first 4 channels by ID
    # (how many more depends on how busy the simulated hour is).
    latest = set(json.loads(result.cursor)["latest"])
    assert {"C04CERTREG4", "C04LOGSTX06", "C04MFGLINE2", "C04NPILNCH3"} <= latest
    assert all(r.run_key.startswith("urgent:") for r in result.run_requests)
