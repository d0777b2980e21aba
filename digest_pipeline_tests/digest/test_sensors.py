"""Sensor ticks with build_sensor_context: run requests, run keys, cursors, alerts once."""

import json
from datetime import UTC, datetime, timedelta

import dagster as dg
import pandas as pd
import pytest

from digest_pipeline.defs.digest.delivery import DigestDelivery, DigestSlackResource
from digest_pipeline.defs.digest.sensors import (
    ALERTS_TABLE,
    critical_risk_alert_sensor,
    read_candidate,
    run_failure_alert_sensor,
    urgent_message_sensor,
    urgent_signals,
)
from digest_pipeline.defs.enrichment.assets import MESSAGES_SCHEMA
from digest_pipeline.defs.risk.assets import RISK_SCHEMA
from digest_pipeline.defs.risk.store import RiskModelStore
from digest_pipeline.defs.slack.assets import CHANNELS_SCHEMA
from digest_pipeline.defs.slack.extract import datetime_to_ts
from digest_pipeline.defs.slack.resources import SlackSource
from digest_pipeline.defs.storage.schema import column_names
from digest_pipeline.defs.storage.warehouse import Warehouse
from digest_pipeline_tests.fakes.slack_chat import FakeChatWorkspace
from digest_pipeline_tests.fakes.slack_server import FakeSlackServer

NOW = datetime.now(UTC).replace(microsecond=0)


class NoWaitSlackSource(SlackSource):
    """The real resource; its Web API client paces calls without sleeping."""

    def open_api(self, **_: object):  # type: ignore[override]
        return super().open_api(sleep=lambda _s: None)


def _ts(minutes_ago: float) -> str:
    return datetime_to_ts(NOW - timedelta(minutes=minutes_ago))


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
    from digest_pipeline.defs.digest.sensors import poll_channels
    from digest_pipeline.defs.slack.api import WebApi
    from digest_pipeline.defs.slack.extract import NO_IDENTITY, app_identity

    text = "Hourly digest: SMT line 2 is down, production stopped, all units on hold"
    with FakeSlackServer(workspace) as server:
        api = WebApi("xoxb-test", server.base_url, sleep=lambda _s: None)
        workspace.base_ts = int((NOW - timedelta(minutes=3)).timestamp())
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
            return poll_channels(
                api, [("C1", "manufacturing")], {}, offset=0, budget=2, now=NOW, own=own
            )

        blind = poll(NO_IDENTITY)
        own = app_identity(api)
        seeing = poll(own)
    assert own.user_id == "U0BOT" and own.bot_id == "B0BOT"
    # Without knowing itself, the sensor re-runs on its own digest and the reply in its thread.
    assert {u.ts for u in blind.urgent} == {digest_ts, broadcast, mes}
    assert [u.ts for u in seeing.urgent] == [mes]
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
    assert calls == 8 and polled_again == 8  # URGENT_CALLS_PER_TICK for tier3
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


# -- critical alerts --------------------------------------------------------------------------


def _seed(warehouse: Warehouse, rows: list[tuple[str, str, str]]) -> None:
    """Messages (channel, id, level) and their assessments, as the pipeline writes them."""
    messages, risks = [], []
    for channel, message_id, level in rows:
        messages.append(
            dict.fromkeys(column_names(MESSAGES_SCHEMA))
            | {
                "id": message_id,
                "channel_id": channel,
                "channel": {"C1": "manufacturing", "CP": "exec"}[channel],
                "user": "raj",
                "content": f"Line stopped <{message_id}>",
                "timestamp": NOW - timedelta(minutes=10),
                "permalink": f"https://x.slack.com/archives/{channel}/p1",
            }
        )
        risks.append(
            dict.fromkeys(column_names(RISK_SCHEMA))
            | {
                "id": f"risk:{message_id}",
                "message_id": message_id,
                "channel_id": channel,
                "risk_level": level,
                "description": "Production line down",
                "created_at": NOW - timedelta(minutes=5),
            }
        )
    warehouse.replace_rows("messages", pd.DataFrame(messages), key=["id"], schema=MESSAGES_SCHEMA)
    warehouse.replace_rows("risk_assessments", pd.DataFrame(risks), key=["id"], schema=RISK_SCHEMA)
    channels = [
        dict.fromkeys(column_names(CHANNELS_SCHEMA))
        | {"channel_id": c, "name": n, "is_private": p, "topic": "", "purpose": ""}
        for c, n, p in (("C1", "manufacturing", False), ("CP", "exec", True))
    ]
    warehouse.replace_rows(
        "slack_channels", pd.DataFrame(channels), key=["channel_id"], schema=CHANNELS_SCHEMA
    )


def _alert_tick(warehouse: Warehouse, delivery: DigestDelivery, server=None, cursor=None):
    chat = DigestSlackResource(token="xoxb-test", base_url=server.base_url if server else "x")
    context = dg.build_sensor_context(
        cursor=cursor,
        resources={"warehouse": warehouse, "delivery": delivery, "slack_chat": chat},
    )
    result = critical_risk_alert_sensor(context)
    return result, context.cursor


def test_critical_risks_go_to_the_outbox_once_in_demo_mode(duckdb_path):
    warehouse = Warehouse(duckdb_path=duckdb_path)
    _seed(
        warehouse,
        [("C1", "C1:1", "critical"), ("C1", "C1:2", "high"), ("CP", "CP:1", "critical")],
    )
    delivery = DigestDelivery()  # no token, no channel: the outbox
    result, cursor = _alert_tick(warehouse, delivery)
    assert "2 critical alert(s): 0 posted, 2 to the outbox" in result.skip_message
    outbox = warehouse.query("SELECT * FROM {schema}." + ALERTS_TABLE + " ORDER BY message_id")
    assert list(outbox["message_id"]) == ["C1:1", "CP:1"]
    assert set(outbox["status"]) == {"outbox"}
    private = outbox.loc[outbox["message_id"] == "CP:1", "text"].iloc[0]
    assert "Line stopped" not in private and "private channel" in private
    # Re-scoring the same message (a new created_at) never alerts twice.
    _seed(warehouse, [("C1", "C1:1", "critical")])
    again, _ = _alert_tick(warehouse, delivery, cursor=cursor)
    assert "0 critical alert(s)" in again.skip_message


def test_critical_risks_are_posted_to_the_alert_channel(duckdb_path):
    warehouse = Warehouse(duckdb_path=duckdb_path)
    _seed(warehouse, [("C1", "C1:1", "critical")])
    workspace = FakeChatWorkspace()
    workspace.add_channel("CALERT", "gtm-alerts")
    delivery = DigestDelivery(alert_channel="gtm-alerts", can_post=True)
    with FakeSlackServer(workspace) as server:
        _alert_tick(warehouse, delivery, server)
        _alert_tick(warehouse, delivery, server)  # no cursor: the outbox alone dedups
    (post,) = workspace.top_level_posts("CALERT")
    assert "Production line down" in post["text"] and "&lt;C1:1&gt;" in post["text"]
    row = warehouse.query("SELECT status, alert_ts FROM {schema}." + ALERTS_TABLE).iloc[0]
    assert (row["status"], row["alert_ts"]) == ("posted", post["ts"])


def test_a_failed_run_is_posted_to_the_alert_channel():
    workspace = FakeChatWorkspace()
    workspace.add_channel("CALERT", "gtm-alerts")
    instance = dg.DagsterInstance.ephemeral()
    with FakeSlackServer(workspace) as server:
        context = dg.build_run_status_sensor_context(
            sensor_name="run_failure_alert_sensor",
            dagster_instance=instance,
            dagster_run=dg.DagsterRun(job_name="hourly_digest_job", run_id="abcdef123456"),
            dagster_event=dg.DagsterEvent(
                event_type_value="PIPELINE_FAILURE",
                job_name="hourly_digest_job",
                message="Slack rejected the bot token (invalid_auth)",
            ),
            resources={
                "delivery": DigestDelivery(alert_channel="gtm-alerts", can_post=True),
                "slack_chat": DigestSlackResource(token="xoxb-test", base_url=server.base_url),
            },
        ).for_run_failure()
        run_failure_alert_sensor(context)
    (post,) = workspace.top_level_posts("CALERT")
    assert "hourly_digest_job" in post["text"] and "invalid_auth" in post["text"]
