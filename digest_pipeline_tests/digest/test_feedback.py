"""The team's reactions on posted digests: fake Slack → sensor → risk_feedback → the next digest."""

import json
from datetime import UTC, datetime, timedelta

import dagster as dg
import pandas as pd
import pytest

from digest_pipeline.defs.digest.assets import daily_digest
from digest_pipeline.defs.digest.delivery import (
    POSTS_TABLE,
    DigestDelivery,
    DigestSlackResource,
    recorded_lines,
)
from digest_pipeline.defs.digest.feedback import (
    FEEDBACK_COLUMN,
    apply_feedback,
    digest_feedback_sensor,
    reaction_votes,
)
from digest_pipeline.defs.enrichment.assets import MESSAGES_SCHEMA
from digest_pipeline.defs.llm.resources import LLMResource
from digest_pipeline.defs.risk.assets import RISK_SCHEMA
from digest_pipeline.defs.risk.labels import FEEDBACK_TABLE
from digest_pipeline.defs.risk.model_assets import warehouse_labels
from digest_pipeline.defs.slack.assets import CHANNELS_SCHEMA, USERS_SCHEMA
from digest_pipeline.defs.storage.schema import column_names
from digest_pipeline.defs.storage.warehouse import Warehouse
from digest_pipeline.settings import ConfigError, load_settings
from digest_pipeline_tests.fakes.slack_chat import FakeChatWorkspace
from digest_pipeline_tests.fakes.slack_server import FakeSlackServer, Fault

DAY = "2026-03-10"
T0 = datetime(2026, 3, 10, 9, tzinfo=UTC)
REACTIONS = {"x": "not_a_risk", "arrow_up": "more_serious", "white_check_mark": "resolved"}


def _frame_row(message_id, level, *, attention=True, parent=None, minutes=0, text="", desc=""):
    return {
        "id": message_id,
        "channel_id": "C1",
        "channel": "manufacturing",
        "user": "raj",
        "timestamp": T0 + timedelta(minutes=minutes),
        "content": text or f"message {message_id}",
        "permalink": f"https://x.slack.com/archives/C1/p{message_id}",
        "is_reply": parent is not None,
        "parent_id": parent,
        "risk_level": level,
        "risk_category": "supply_chain",
        "description": desc or f"Risk {message_id}",
        "confidence_score": 0.9,
        "requires_attention": attention,
    }


def _feedback(*rows):
    return pd.DataFrame(
        [
            {"message_id": m, "verdict": v, "given_at": T0 + timedelta(minutes=at),
             "risk_level": lv, "thread_id": th}
            for m, v, at, lv, th in rows
        ]
    )  # fmt: skip


def test_apply_feedback_drops_raises_and_resolves():
    frame = pd.DataFrame(
        [
            _frame_row("C1:1", "high"),
            _frame_row("C1:2", "high"),
            _frame_row("C1:3", "critical"),
            _frame_row("C1:4", "low", attention=False, parent="C1:3", minutes=5),
            _frame_row("C1:5", "high", parent="C1:3", minutes=90),  # after the ✅: reopens
            _frame_row("C1:6", "medium"),
        ]
    )
    out = apply_feedback(
        frame,
        _feedback(
            ("C1:1", "more_serious", 1, "critical", "C1:1"),
            ("C1:1", "not_a_risk", 2, "low", "C1:1"),  # the latest wins
            ("C1:2", "more_serious", 1, "critical", "C1:2"),
            ("C1:3", "resolved", 60, None, "C1:3"),
            ("C1:6", "more_serious", 1, "high", "C1:6"),
            ("C1:9", "not_a_risk", 1, "low", "C1:9"),  # not in this window
        ),
    )
    by_id = out.set_index("id")
    assert (by_id.at["C1:1", "risk_level"], by_id.at["C1:1", "requires_attention"]) == (
        "low",
        False,
    )
    assert by_id.at["C1:2", "risk_level"] == "critical"
    assert by_id.at["C1:6", "risk_level"] == "high"
    assert list(out[FEEDBACK_COLUMN]) == [False, False, True, True, False, False]
    assert list(out["requires_attention"]) == [False, True, False, False, True, True]
    assert len(out) == len(frame) and "feedback_resolved" not in frame.columns  # a copy


def test_more_serious_never_raises_twice_nor_lowers():
    frame = pd.DataFrame([_frame_row("C1:1", "critical"), _frame_row("C1:2", "critical")])
    # The model, retrained on the ⬆️, already says critical: the verdict does not raise again.
    out = apply_feedback(
        frame,
        _feedback(
            ("C1:1", "more_serious", 1, "critical", "C1:1"),
            ("C1:2", "more_serious", 1, "high", "C1:2"),
        ),
    )
    assert list(out["risk_level"]) == ["critical", "critical"]


def test_only_peoples_known_reactions_count():
    message = {
        "reactions": [
            {"name": "x", "users": ["U001", "U0BOT", "UBOT1", "not-an-id", 7], "count": 5},
            {"name": "arrow_up::skin-tone-3", "users": ["U002"], "count": 1},
            {"name": "tada", "users": ["U001"], "count": 1},
            {"name": "white_check_mark", "users": "U001"},
            "junk",
        ]
    }
    votes = reaction_votes(message, REACTIONS, humans={"U001", "U002"})
    assert votes == {("U001", "not_a_risk"), ("U002", "more_serious")}
    assert reaction_votes({"reactions": "nope"}, REACTIONS, {"U001"}) == set()


def test_feedback_reactions_are_configurable_and_checked():
    env = {"DIGEST_FEEDBACK_REACTIONS": ":no_entry:=not_a_risk,fire=more_serious"}
    settings = load_settings(env)
    assert dict(settings.feedback_reactions) == {
        "no_entry": "not_a_risk",
        "fire": "more_serious",
    }
    assert dict(load_settings({}).feedback_reactions) == REACTIONS
    with pytest.raises(ConfigError, match=r"DIGEST_FEEDBACK_REACTIONS=.*'fire=hot'"):
        load_settings({"DIGEST_FEEDBACK_REACTIONS": "fire=hot"})


# -- end to end -----------------------------------------------------------------------------------


def _seed(warehouse: Warehouse) -> pd.DataFrame:
    rows = [
        _frame_row("C1:100", "high", text="TI put the PMIC on allocation", desc="PMIC allocation"),
        _frame_row("C1:200", "critical", minutes=10, text="Line 3 is down", desc="Line stop"),
        _frame_row("C1:201", "low", attention=False, parent="C1:200", minutes=20, text="on it"),
        _frame_row("C1:300", "high", minutes=30, text="Fixtures short for EVT", desc="Fixtures"),
    ]
    messages = [dict.fromkeys(column_names(MESSAGES_SCHEMA)) | r for r in rows]
    for m in messages:
        m["user_id"], m["is_bot"], m["mentions"] = "U001", False, []
    risks = [
        dict.fromkeys(column_names(RISK_SCHEMA))
        | {k: r[k] for k in ("risk_level", "risk_category", "description", "requires_attention")}
        | {"id": f"risk:{r['id']}", "message_id": r["id"], "channel_id": "C1"}
        | {"confidence_score": 0.9, "created_at": T0}
        for r in rows
    ]
    users = [
        dict.fromkeys(column_names(USERS_SCHEMA))
        | {"user_id": u, "name": u.lower(), "is_bot": bot, "deleted": False}
        for u, bot in (("U001", False), ("U002", False), ("UBOT1", True), ("U0BOT", False))
    ]
    channels = [
        dict.fromkeys(column_names(CHANNELS_SCHEMA))
        | {"channel_id": "C1", "name": "manufacturing", "is_private": False}
        | {"topic": "", "purpose": ""}
    ]
    warehouse.replace_rows("messages", pd.DataFrame(messages), key=["id"], schema=MESSAGES_SCHEMA)
    warehouse.replace_rows("risk_assessments", pd.DataFrame(risks), key=["id"], schema=RISK_SCHEMA)
    warehouse.replace_rows("slack_users", pd.DataFrame(users), key=["user_id"], schema=USERS_SCHEMA)
    frame = pd.DataFrame(channels)
    warehouse.replace_rows("slack_channels", frame, key=["channel_id"], schema=CHANNELS_SCHEMA)
    return frame


@pytest.fixture
def slack():
    workspace = FakeChatWorkspace()
    workspace.add_channel("CDIGEST", "gtm-digest")
    with FakeSlackServer(workspace, token="xoxb-test") as server:
        yield server, workspace


def _resources(warehouse, server, tmp_path, *, token=True):
    return {
        "warehouse": warehouse,
        "delivery": DigestDelivery(
            post_channel="gtm-digest", can_post=token, output_dir=str(tmp_path / "digests")
        ),
        "slack_chat": DigestSlackResource(token="xoxb-test", base_url=server.base_url),
    }


def _digest(warehouse, channels, server, tmp_path) -> pd.DataFrame:
    return daily_digest(
        dg.build_asset_context(partition_key=DAY),
        slack_channels=channels,
        slack_users=warehouse.query("SELECT * FROM {schema}.slack_users"),
        llm=LLMResource(enabled=False),
        **_resources(warehouse, server, tmp_path),
    )


def _tick(warehouse, server, tmp_path, cursor=None, *, token=True):
    context = dg.build_sensor_context(
        cursor=cursor, resources=_resources(warehouse, server, tmp_path, token=token)
    )
    result = digest_feedback_sensor(context)
    return result, result.cursor if isinstance(result, dg.SensorResult) else context.cursor


def _line_ts(warehouse) -> dict[str, str]:
    (row,) = warehouse.query("SELECT line_replies FROM {schema}." + POSTS_TABLE).itertuples()
    return {r["message_ids"][0]: r["ts"] for r in recorded_lines(row.line_replies)}


def _feedback_rows(warehouse) -> list[tuple]:
    rows = warehouse.query(
        "SELECT message_id, user_id, verdict, risk_level, thread_id, source FROM {schema}."
        + FEEDBACK_TABLE
        + " ORDER BY message_id, user_id"
    )
    return [tuple(r) for r in rows.itertuples(index=False)]


def test_reactions_on_the_digest_reach_risk_feedback_and_the_next_digest(
    slack, duckdb_path, tmp_path
):
    server, workspace = slack
    warehouse = Warehouse(duckdb_path=duckdb_path)
    channels = _seed(warehouse)
    first = _digest(warehouse, channels, server, tmp_path)
    overall = first.loc[first["channel_id"] == "*"].iloc[0]
    assert {a["message_id"] for a in json.loads(overall["action_items"])} == {
        "C1:100", "C1:200", "C1:300",
    }  # fmt: skip
    lines = _line_ts(warehouse)
    assert set(lines) == {"C1:100", "C1:200", "C1:300"}

    workspace.react("CDIGEST", lines["C1:100"], "x", "U001")  # ❌ by a person
    workspace.react("CDIGEST", lines["C1:100"], "x", "UBOT1")  # a bot: ignored
    workspace.react("CDIGEST", lines["C1:200"], "white_check_mark", "U002")  # ✅
    workspace.react("CDIGEST", lines["C1:200"], "arrow_up", "U0BOT")  # the app itself: ignored
    workspace.react("CDIGEST", lines["C1:300"], "arrow_up", "U001")  # ⬆️ on a high line
    workspace.react("CDIGEST", lines["C1:300"], "tada", "U002")  # not a verdict
    result, cursor = _tick(warehouse, server, tmp_path)
    assert "checked 3 of 3 digest replies: 3 verdict(s) added, 0 retracted" in (
        result.skip_reason.skip_message
    )
    assert cursor == max(f"CDIGEST:{ts}" for ts in lines.values())
    assert _feedback_rows(warehouse) == [
        ("C1:100", "U001", "not_a_risk", "low", "C1:100", "reaction"),
        ("C1:200", "U002", "resolved", None, "C1:200", "reaction"),
        ("C1:300", "U001", "more_serious", "critical", "C1:300", "reaction"),
    ]
    given = warehouse.query("SELECT given_at FROM {schema}." + FEEDBACK_TABLE)
    # A second tick adds nothing and keeps given_at (the model's retraining keys on it).
    result, _ = _tick(warehouse, server, tmp_path, cursor)
    assert "0 verdict(s) added, 0 retracted" in result.skip_reason.skip_message
    assert warehouse.query("SELECT given_at FROM {schema}." + FEEDBACK_TABLE).equals(given)

    # The risk model trains on the verdicts: ❌ as low, ⬆️ as the level above the line's.
    labels = {r.id: r.risk_level for r in warehouse_labels(warehouse).feedback.rows}
    assert labels == {"C1:100": "low", "C1:300": "critical"}

    # The next digest (the partition re-run) respects the feedback.
    second = _digest(warehouse, channels, server, tmp_path)
    overall = second.loc[second["channel_id"] == "*"].iloc[0]
    actions = json.loads(overall["action_items"])
    assert [(a["message_id"], a["risk_level"]) for a in actions] == [("C1:300", "critical")]
    assert "C1:100" not in {r["message_id"] for r in json.loads(overall["top_risks"])}
    # The ✅ thread is listed once, under Resolved, with the risk it was.
    assert [r["thread_id"] for r in json.loads(overall["resolved_risks"])] == ["C1:200"]
    assert "C1:200" not in {r["thread_id"] for r in json.loads(overall["top_risks"])}
    (post,) = workspace.top_level_posts("CDIGEST")
    assert "PMIC allocation" not in json.dumps(post["blocks"])  # the ❌ line is gone
    assert "PMIC allocation" not in overall["markdown"]
    # The re-run posts no second reply for a line it already has.
    assert len(workspace.replies_to("CDIGEST", post["ts"])) == 1 + 3

    # A removed reaction retracts its row.
    workspace.unreact("CDIGEST", lines["C1:100"], "x", "U001")
    result, _ = _tick(warehouse, server, tmp_path)
    assert "0 verdict(s) added, 1 retracted" in result.skip_reason.skip_message
    assert [r[0] for r in _feedback_rows(warehouse)] == ["C1:200", "C1:300"]


def test_the_sensor_reads_at_most_its_budget_and_goes_round(slack, duckdb_path, tmp_path):
    from digest_pipeline.defs.digest.feedback import collect_feedback, reply_targets

    server, _ = slack
    warehouse = Warehouse(duckdb_path=duckdb_path)
    _digest(warehouse, _seed(warehouse), server, tmp_path)
    targets = reply_targets(warehouse.query("SELECT * FROM {schema}." + POSTS_TABLE))
    client = DigestSlackResource(token="xoxb-test", base_url=server.base_url).get_client()
    report, last = collect_feedback(client, warehouse, targets, REACTIONS, after=None, budget=3)
    assert (report.checked, last) == (2, targets[1].ref)
    report, last = collect_feedback(client, warehouse, targets, REACTIONS, after=last, budget=3)
    assert (report.checked, last) == (2, targets[0].ref)  # the third, then round to the first
    assert server.calls("reactions.get") == 4 and server.calls("auth.test") == 2


def test_the_sensor_skips_without_a_token_and_fails_fast_on_a_bad_one(slack, duckdb_path, tmp_path):
    server, _ = slack
    warehouse = Warehouse(duckdb_path=duckdb_path)
    result, _ = _tick(warehouse, server, tmp_path, token=False)
    assert "not posted" in result.skip_message
    result, _ = _tick(warehouse, server, tmp_path)
    assert result.skip_message == "no digest posted yet"
    _digest(warehouse, _seed(warehouse), server, tmp_path)
    server.inject("reactions.get", Fault.error("missing_scope"))
    with pytest.raises(dg.Failure, match=r"missing_scope \(add reactions:read\)") as failure:
        _tick(warehouse, server, tmp_path)
    assert "xoxb-test" not in str(failure.value)
    assert server.calls("reactions.get") == 1  # no retry
    server.inject("reactions.get", Fault.rate_limited(0), *[Fault.rate_limited(0)] * 3)
    result, cursor = _tick(warehouse, server, tmp_path)
    assert "stopped early: ratelimited" in result.skip_reason.skip_message
    assert cursor is None  # nothing read: the next tick starts at the same reply
