"""The pipeline never reads its own output: a digest posted into a channel it extracts comes back
in the next hour's history (with a person's reply in its thread and an alarm reaction), and is
kept in ``raw_messages`` but never scored, cited, counted, alerted on or polled as urgent — while
another bot's alert in the same channel still is.

The real jobs run against the fake Slack server through the real ``WebClient``; the digest is
posted by the pipeline itself (``DIGEST_POST_HOURLY``), so it comes back exactly as Slack returns
it: the bot's ``user``, ``bot_id`` and ``app_id``.
"""

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import dagster as dg
import duckdb
import pytest

from digest_pipeline.definitions import build_defs
from digest_pipeline.defs.digest.delivery import DigestDelivery, DigestSlackResource
from digest_pipeline.defs.enrichment.enrich import enrich_messages
from digest_pipeline.defs.partitions import HOURLY_FORMAT
from digest_pipeline.defs.pipeline.alerts import critical_risk_alert_sensor
from digest_pipeline.defs.pipeline.urgent import read_candidate, urgent_message_sensor
from digest_pipeline.defs.risk.store import RiskModelStore
from digest_pipeline.defs.slack.resources import SlackSource
from digest_pipeline.defs.storage.warehouse import Warehouse
from digest_pipeline.settings import Settings
from digest_pipeline_tests.conftest import QUIET
from digest_pipeline_tests.fakes.slack_chat import FakeChatWorkspace
from digest_pipeline_tests.fakes.slack_server import FakeSlackServer

TOKEN = "xoxb-own-posts-test"
# Recent hours, so the alert sensor (messages of the last 24 hours) looks at them.
H10 = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
H11 = H10 + timedelta(hours=1)
KEY10, KEY11 = H10.strftime(HOURLY_FORMAT), H11.strftime(HOURLY_FORMAT)
MES = {"user": "U0MES", "bot_id": "B0MES", "app_id": "A0MES", "subtype": "bot_message"}


def ts_at(moment: datetime) -> str:
    return f"{int(moment.timestamp())}.000000"


class NoWaitSlackSource(SlackSource):
    def open_api(self, **_: object):  # type: ignore[override]
        return super().open_api(sleep=lambda _s: None)


@pytest.fixture
def workspace() -> FakeChatWorkspace:
    ws = FakeChatWorkspace()
    ws.add_channel("C001", "manufacturing")
    ws.add_user("U001", "ana")
    ws.add_user("U0MES", "mes-alerts", is_bot=True)
    ws.add_user("U0BOT", "digest-bot", is_bot=True)
    return ws


@pytest.fixture
def server(workspace: FakeChatWorkspace) -> Iterator[FakeSlackServer]:
    with FakeSlackServer(workspace, token=TOKEN) as srv:
        yield srv


def _rows(path: str, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(path, read_only=True) as conn:
        conn.execute("USE w.digest")
        return conn.execute(sql, params or []).fetchall()


def test_the_own_digest_is_never_read_back_while_another_bots_alert_is(
    workspace, server, tmp_path, monkeypatch, risk_model_dir
):
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    path = str(tmp_path / "w.duckdb")
    settings = Settings(
        source="slack",
        slack_base_url=server.base_url,
        duckdb_path=path,
        model_dir=risk_model_dir,
        scorer="model",
        post_channel="C001",  # the digest goes into the channel it reads
        post_hourly=True,
        has_slack_token=True,
        digest_dir=str(tmp_path / "digests"),
    )
    defs = build_defs(settings)
    hourly = defs.resolve_job_def("hourly_digest_job")

    mes10 = ts_at(H10 + timedelta(minutes=5))
    workspace.post(
        "C001",
        mes10,
        "Line 3 down: SMT reflow oven failure, 40% scrap on lot 4471, stop ship",
        **MES,
    )
    workspace.base_ts = int(H11.timestamp()) + 60  # the digest of 10:00 is posted at 11:01
    assert hourly.execute_in_process(partition_key=KEY10, run_config=QUIET).success
    digest = workspace.top_level_posts("C001")[0]
    digest_ts = digest["ts"]
    assert "Line 3 down" in json.dumps(digest["blocks"])  # it quotes the alert it cites

    # People answer the digest in its thread and flag it; another MES alert and some chatter.
    reply = ts_at(H11 + timedelta(minutes=10))
    workspace.post(
        "C001",
        reply,
        "<!here> this is still blocking - customer escalation, need answer by EOD",
        thread_ts=digest_ts,
        user="U001",
    )
    digest["reactions"] = [{"name": "rotating_light", "users": ["U001"], "count": 1}]
    mes11 = ts_at(H11 + timedelta(minutes=20))
    workspace.post(
        "C001", mes11, "Line 5 down: AOI station failure, stop ship on PO-8812 units", **MES
    )
    lunch = ts_at(H11 + timedelta(minutes=30))
    workspace.post("C001", lunch, "lunch order going in at noon", user="U001")
    assert hourly.execute_in_process(partition_key=KEY11, run_config=QUIET).success

    own_ids = {f"C001:{digest_ts}", f"C001:{reply}"}
    # Kept as raw rows, marked.
    raw = dict(
        _rows(
            path,
            "SELECT ts, is_own_post FROM raw_messages WHERE timestamp >= ? AND timestamp < ?",
            [H11, H11 + timedelta(hours=1)],
        )
    )
    assert raw[digest_ts] is True and raw[reply] is True
    assert raw[mes11] is False and raw[lunch] is False
    # Never in messages (so never team activity), never scored.
    hour11 = [H11, H11 + timedelta(hours=1)]
    stored = {
        r[0]
        for r in _rows(
            path, 'SELECT id FROM messages WHERE "timestamp" >= ? AND "timestamp" < ?', hour11
        )
    }
    assert stored == {f"C001:{mes11}", f"C001:{lunch}"}
    levels = dict(_rows(path, "SELECT message_id, risk_level FROM risk_assessments"))
    assert not own_ids & set(levels)
    assert levels[f"C001:{mes11}"] == "critical"
    # The 11:00 digest counts two messages and cites the MES alert, never its own post.
    rows = _rows(
        path,
        "SELECT channel_id, message_count, CAST(top_risks AS VARCHAR), markdown"
        " FROM hourly_digest WHERE window_start = ?",
        [H11],
    )
    overall = next(r for r in rows if r[0] == "*")
    assert overall[1] == 2
    assert f"C001:{mes11}" in overall[2]
    for row in rows:
        assert not any(own in str(row) for own in (digest_ts, reply)), row
        assert "Line 3 down" not in str(row)  # the digest's quote is not news again

    # Without the mark the same raw rows would be messages, the reply among them a high risk.
    warehouse = Warehouse(duckdb_path=path)
    raw_rows = warehouse.query(
        'SELECT * FROM {schema}.raw_messages WHERE "timestamp" >= ? AND "timestamp" < ?', hour11
    )
    unmarked = enrich_messages(raw_rows.assign(is_own_post=False), None, None).frame
    assert own_ids <= set(unmarked["id"])
    store = RiskModelStore(model_dir=risk_model_dir)
    model = store.load(store.current_version())
    (reply_level,) = model.predict([str(digest_reply_text(unmarked, reply))]).levels
    assert reply_level in ("high", "critical")

    # The alert sensor alerts on both MES alerts, never on the digest; its alerts are posted
    # into the same channel, so they too are the app's own posts.
    alerts = dg.build_sensor_context(
        resources={
            "warehouse": warehouse,
            "delivery": DigestDelivery(alert_channel="C001", can_post=True),
            "slack_chat": DigestSlackResource(token=TOKEN, base_url=server.base_url),
        }
    )
    critical_risk_alert_sensor(alerts)
    alerted = {r[0] for r in _rows(path, "SELECT message_id FROM digest_alerts")}
    assert alerted == {f"C001:{mes10}", f"C001:{mes11}"}
    alert_posts = [p for p in workspace.top_level_posts("C001") if "Critical risk" in p["text"]]
    assert len(alert_posts) == 2

    # The urgent sensor reads the flagged digest and the posted alerts past (that they would
    # request runs if anyone else posted them is shown in pipeline/test_urgent.py with the rules).
    candidate = read_candidate("C001", digest)
    assert candidate is not None and ":rotating_light:" in candidate.loud
    # They are the app's own posts: only the MES alert of 11:20 re-runs the hour.
    slack = NoWaitSlackSource(kind="slack", token=TOKEN, base_url=server.base_url)
    cursor = json.dumps({"latest": {"C001": ts_at(H11)}, "offset": 0})
    context = dg.build_sensor_context(
        cursor=cursor,
        resources={"slack": slack, "warehouse": warehouse, "risk_model_store": store},
    )
    result = urgent_message_sensor(context)
    assert [r.run_key for r in result.run_requests] == [f"urgent:C001:{mes11}"]


def digest_reply_text(frame, ts: str) -> str:
    return frame.loc[frame["ts"] == ts, "content"].iloc[0]
