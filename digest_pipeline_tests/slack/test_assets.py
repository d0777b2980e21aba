"""The extract assets materialized into a temporary DuckDB file from the fake Slack server.

The real ``slack_sdk.WebClient`` talks HTTP to a ``FakeSlackServer``; only the clock is fake, so
pacing (1.2 s, or a minute on the strict tier) is recorded instead of slept.
"""

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest

from digest_pipeline.defs.enrichment.assets import messages
from digest_pipeline.defs.pipeline.schedules import range_tags
from digest_pipeline.defs.slack.assets import raw_messages, slack_channels, slack_users
from digest_pipeline.defs.slack.checks import raw_messages_reply_coverage
from digest_pipeline.defs.slack.models import SlackApi
from digest_pipeline.defs.slack.resources import SlackSource
from digest_pipeline.defs.storage.duckdb import DuckDBWarehouseIOManager
from digest_pipeline.defs.storage.warehouse import Warehouse
from digest_pipeline_tests.fakes.slack_server import FakeSlackServer, FakeWorkspace

TOKEN = "xoxb-asset-test-token"
H10 = datetime(2026, 3, 5, 10, tzinfo=UTC)
H11 = H10 + timedelta(hours=1)
KEY10, KEY11 = "2026-03-05-10:00", "2026-03-05-11:00"
ASSETS = [slack_channels, slack_users, raw_messages, messages, raw_messages_reply_coverage]


def ts_at(moment: datetime, micro: int = 0) -> str:
    return f"{int(moment.timestamp())}.{micro:06d}"


class _FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    def clock(self) -> float:
        return self.now


class InstantSlackSource(SlackSource):
    """The production resource, with a clock that moves instead of sleeping."""

    def open_api(self, **kwargs: Any) -> SlackApi:
        fake = _FakeClock()
        return super().open_api(sleep=fake.sleep, clock=fake.clock)


@pytest.fixture
def workspace() -> FakeWorkspace:
    ws = FakeWorkspace()
    ws.add_user("U001", "ana")
    ws.add_user("U002", "ben")
    ws.add_user("U0BOT", "build-bot", is_bot=True)
    ws.add_channel("C001", "supply-chain")
    return ws


@pytest.fixture
def server(workspace: FakeWorkspace) -> Iterator[FakeSlackServer]:
    with FakeSlackServer(workspace, token=TOKEN) as srv:
        yield srv


@pytest.fixture
def instance() -> dg.DagsterInstance:
    return dg.DagsterInstance.ephemeral()


def api_source(server: FakeSlackServer, **fields: Any) -> SlackSource:
    return InstantSlackSource(kind="slack", token=TOKEN, base_url=server.base_url, **fields)


def run(
    path: str,
    source: SlackSource,
    instance: dg.DagsterInstance,
    partition: str | tuple[str, str] = KEY10,
    *,
    raise_on_error: bool = True,
) -> dg.ExecuteInProcessResult:
    single = isinstance(partition, str)
    return dg.materialize(
        ASSETS,
        partition_key=partition if single else None,
        tags=None if single else range_tags(*partition),
        instance=instance,
        resources={
            "slack": source,
            "warehouse": Warehouse(duckdb_path=path),
            "io_manager": DuckDBWarehouseIOManager(database=path, schema="digest"),
        },
        raise_on_error=raise_on_error,
    )


def rows(path: str, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    with duckdb.connect(path, read_only=True) as conn:
        conn.execute("USE digest.digest")
        return conn.execute(sql, params or []).fetchall()


def raw_metadata(result: dg.ExecuteInProcessResult) -> dict[str, Any]:
    found = result.asset_materializations_for_node("raw_messages")[-1]
    return {key: value.value for key, value in found.metadata.items()}


def check_result(result: dg.ExecuteInProcessResult) -> dg.AssetCheckEvaluation:
    (evaluation,) = result.get_asset_check_evaluations()
    return evaluation


def test_rematerializing_an_hour_drops_deleted_messages_and_keeps_the_latest_edit(
    workspace: FakeWorkspace, server: FakeSlackServer, instance, duckdb_path: str
) -> None:
    lead, oops, parent = (ts_at(H10 + timedelta(minutes=m)) for m in (1, 2, 3))
    reply = ts_at(H10 + timedelta(minutes=4))
    workspace.post("C001", lead, "PCB lead time is 12 weeks")
    workspace.post("C001", oops, "wrong channel, sorry")
    workspace.post("C001", parent, "Customs hold in Shenzhen")
    workspace.post("C001", reply, "broker is on it", thread_ts=parent, user="U002")
    run(duckdb_path, api_source(server), instance)
    assert len(rows(duckdb_path, "SELECT id FROM messages")) == 4

    workspace.edit("C001", lead, "PCB lead time is now 52 weeks")
    workspace.delete("C001", oops)
    workspace.delete("C001", reply)
    run(duckdb_path, api_source(server), instance)

    assert rows(duckdb_path, "SELECT ts FROM raw_messages ORDER BY ts") == [(lead,), (parent,)]
    assert rows(duckdb_path, "SELECT id, content, edited FROM messages ORDER BY ts") == [
        (f"C001:{lead}", "PCB lead time is now 52 weeks", True),
        (f"C001:{parent}", "Customs hold in Shenzhen", False),
    ]


@pytest.mark.parametrize("include_bots", [True, False])
def test_bot_posts_are_kept_and_marked_unless_configured_off(
    workspace: FakeWorkspace, server: FakeSlackServer, instance, duckdb_path: str, include_bots
) -> None:
    human, bot, join = (ts_at(H10 + timedelta(minutes=m)) for m in (1, 2, 3))
    workspace.post("C001", human, "EVT build starts Monday")
    workspace.post(
        "C001", bot, "Nightly test: 3 failures", user="U0CI", subtype="bot_message", bot_id="B01"
    )
    workspace.post("C001", join, "<@U002> has joined the channel", subtype="channel_join")

    run(duckdb_path, api_source(server, include_bots=include_bots), instance)

    assert len(rows(duckdb_path, "SELECT ts FROM raw_messages")) == 3  # the full record
    stored = rows(duckdb_path, "SELECT ts, message_type, is_bot FROM messages ORDER BY ts")
    expected = [(human, "message", False)] + ([(bot, "bot", True)] if include_bots else [])
    assert stored == expected


def test_an_unreadable_channel_is_skipped_counted_and_shown_in_slack_channels(
    workspace: FakeWorkspace, server: FakeSlackServer, instance, duckdb_path: str
) -> None:
    workspace.add_channel("C002", "exec-private", is_private=True)
    workspace.add_channel("C003", "random", is_member=False)
    workspace.set_read_error("C002", "missing_scope")  # listed as a member, history refused
    workspace.post("C001", ts_at(H10 + timedelta(minutes=5)), "FCC retest booked")

    first = run(duckdb_path, api_source(server), instance)

    metadata = raw_metadata(first)
    assert metadata["channels_read"] == 1
    assert metadata["channels_skipped"] == 1
    assert metadata["skipped_channels"] == {"C002": "missing_scope"}
    assert rows(duckdb_path, "SELECT count(*) FROM messages") == [(1,)]

    # The next run's channel list shows why nothing comes from C002, next to the config skips.
    run(duckdb_path, api_source(server), instance, KEY11)
    channels = rows(
        duckdb_path,
        "SELECT channel_id, selected, skip_reason, read_status, read_failed_method"
        " FROM slack_channels ORDER BY channel_id",
    )
    assert channels == [
        ("C001", True, None, "ok", None),
        ("C002", True, "missing_scope", "missing_scope", "conversations.history"),
        ("C003", False, "not_in_channel", None, None),
    ]


def test_auto_join_joins_selected_public_channels_and_says_so_per_channel(
    workspace: FakeWorkspace, server: FakeSlackServer, instance, duckdb_path: str
) -> None:
    workspace.add_channel("C002", "exec-private", is_private=True, is_member=False)
    workspace.add_channel("C003", "random", is_member=False)
    workspace.add_channel("C004", "old", is_member=False, is_archived=True)
    workspace.post("C003", ts_at(H10 + timedelta(minutes=5)), "customs hold on lot 9")

    # Off by default: nothing joined, C003 stays skipped.
    run(duckdb_path, api_source(server), instance)
    assert server.calls("conversations.join") == 0

    run(duckdb_path, api_source(server, auto_join=True), instance)
    channels = rows(
        duckdb_path,
        "SELECT channel_id, selected, is_member, join_outcome FROM slack_channels"
        " ORDER BY channel_id",
    )
    assert channels == [
        ("C001", True, True, None),
        ("C002", False, False, None),  # private: a bot must be invited
        ("C003", True, True, "joined"),
        ("C004", False, False, None),  # archived
    ]
    assert server.calls("conversations.join") == 1
    assert rows(duckdb_path, "SELECT content FROM messages WHERE channel_id = 'C003'") == [
        ("customs hold on lot 9",)
    ]


def test_auto_join_without_the_scope_says_why_and_stops_trying(
    workspace: FakeWorkspace, server: FakeSlackServer, instance, duckdb_path: str
) -> None:
    workspace.add_channel("C003", "random", is_member=False)
    workspace.add_channel("C005", "ops", is_member=False)
    workspace.join_error = "missing_scope"
    result = run(duckdb_path, api_source(server, auto_join=True), instance)
    assert server.calls("conversations.join") == 1  # the others would fail the same way
    meta = result.asset_materializations_for_node("slack_channels")[-1].metadata
    assert meta["channels_join_failed"].value == 1
    outcome = rows(duckdb_path, "SELECT join_outcome FROM slack_channels WHERE channel_id='C003'")
    assert outcome == [("join_failed: missing_scope",)]


def test_a_revoked_token_fails_at_once_with_one_clear_line(
    server: FakeSlackServer, instance, duckdb_path: str
) -> None:
    source = InstantSlackSource(kind="slack", token="xoxb-revoked", base_url=server.base_url)

    result = run(duckdb_path, source, instance, raise_on_error=False)

    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    message = failure.step_failure_data.error.message
    assert "SLACK_BOT_TOKEN" in message and "invalid_auth" in message
    assert "xoxb-revoked" not in message
    assert server.calls("conversations.history") == 0


def test_strict_rate_tier_asks_15_items_a_page_and_paces_a_minute_end_to_end(
    workspace: FakeWorkspace, server: FakeSlackServer, instance, duckdb_path: str
) -> None:
    parent = ts_at(H10, 1)
    workspace.post("C001", parent, "Yield excursion on line 3")
    for i in range(1, 21):
        workspace.post("C001", ts_at(H10 + timedelta(seconds=i)), f"data {i}", thread_ts=parent)
    for i in range(40):
        workspace.post("C001", ts_at(H10 + timedelta(minutes=1 + i)), f"note {i}")

    result = run(duckdb_path, api_source(server, rate_tier="strict"), instance)

    paged = [
        r for r in server.requests if r.method in ("conversations.history", "conversations.replies")
    ]
    assert {r.params["limit"] for r in paged} == {"15"}
    metadata = raw_metadata(result)
    calls = metadata["api_calls_by_method"]
    # 41 and 1 + 20; auth.test names the app's own posts (never paced)
    assert calls == {"auth.test": 1, "conversations.history": 3, "conversations.replies": 2}
    assert metadata["rate_tier"] == "strict"
    assert metadata["history_page_size"] == metadata["replies_page_size"] == 15
    # One minute between two calls of a method: two waits for history, one for replies.
    assert metadata["seconds_waited"] == pytest.approx(180.0)
    assert metadata["messages"] == 61
    assert rows(duckdb_path, "SELECT count(*), count(DISTINCT ts) FROM raw_messages") == [(61, 61)]


def test_an_export_backfill_then_the_api_store_each_message_once(
    workspace: FakeWorkspace, server: FakeSlackServer, instance, tmp_path: Path, duckdb_path: str
) -> None:
    old_parent = ts_at(H10 - timedelta(days=2))
    posts = [
        (old_parent, "Allocation cut on the PMIC", None),
        (ts_at(H10 + timedelta(minutes=5)), "Update: partial allocation restored", old_parent),
        (ts_at(H10 + timedelta(minutes=9)), "Line 2 down for tooling", None),
        (ts_at(H11 + timedelta(minutes=2)), "Line 2 back up", None),
    ]
    for ts, text, thread_ts in posts:
        workspace.post("C001", ts, text, thread_ts=thread_ts)
    export = write_export(tmp_path / "export", workspace, bad_day="2026-03-04")

    backfill = run(
        duckdb_path,
        InstantSlackSource(kind="export", export_path=str(export)),
        instance,
        (KEY10, KEY11),
    )
    metadata = raw_metadata(backfill)
    assert metadata["export_bad_files"] == 1
    (reason,) = metadata["export_bad_file_list"].values()
    assert list(metadata["export_bad_file_list"]) == ["supply-chain/2026-03-04.json"]
    assert "not valid JSON" in reason
    from_export = rows(duckdb_path, "SELECT id FROM messages ORDER BY id")
    assert len(from_export) == 3  # the old parent is outside the two hours

    # Switch to the API for the second hour: same keys, so it replaces and never duplicates.
    run(duckdb_path, api_source(server), instance, KEY11)

    assert rows(duckdb_path, "SELECT id FROM messages ORDER BY id") == from_export
    assert rows(duckdb_path, "SELECT source, count(*) FROM raw_messages GROUP BY 1 ORDER BY 1") == [
        ("export", 2),
        ("slack", 1),
    ]


def write_export(root: Path, workspace: FakeWorkspace, bad_day: str) -> Path:
    """A Slack export of ``workspace``: channels.json, users.json and channel/day files."""
    root.mkdir(parents=True)
    (root / "channels.json").write_text(json.dumps(list(workspace.channels.values())))
    (root / "users.json").write_text(json.dumps(workspace.users))
    days: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for channel_id, channel in workspace.channels.items():
        body = workspace.call("conversations.history", {"channel": channel_id, "limit": 999})
        threads = [m for m in body["messages"] if m.get("reply_count")]
        found = list(body["messages"])
        for parent in threads:
            replies = workspace.call(
                "conversations.replies", {"channel": channel_id, "ts": parent["ts"]}
            )
            found.extend(replies["messages"][1:])
        for message in found:
            day = datetime.fromtimestamp(int(float(message["ts"])), UTC).strftime("%Y-%m-%d")
            days.setdefault((channel["name"], day), []).append(message)
    for (folder, day), day_messages in days.items():
        (root / folder).mkdir(exist_ok=True)
        (root / folder / f"{day}.json").write_text(json.dumps(day_messages))
    (root / "supply-chain" / f"{bad_day}.json").write_text("[{oops")
    return root


def test_reply_coverage_checks_only_threads_whose_replies_are_due_and_fails_on_a_gap(
    workspace: FakeWorkspace, server: FakeSlackServer, instance, duckdb_path: str
) -> None:
    parent = ts_at(H10 + timedelta(minutes=1))
    workspace.post("C001", parent, "EOL notice: TPS65 PMIC")
    workspace.post("C001", ts_at(H10 + timedelta(minutes=2)), "LTB by Friday", thread_ts=parent)
    late = ts_at(H11 + timedelta(minutes=3))
    workspace.post("C001", late, "second source qualified", thread_ts=parent, user="U002")

    first = check_result(run(duckdb_path, api_source(server), instance, KEY10))
    # The parent advertises 2 replies, one in 11:00 which is not extracted yet: not a failure.
    assert first.passed
    assert first.metadata["threads_checked"].value == 0
    assert first.metadata["threads_not_due"].value == 1

    second = check_result(run(duckdb_path, api_source(server), instance, KEY11))
    assert second.passed
    assert second.metadata["threads_checked"].value == 1

    with duckdb.connect(duckdb_path) as conn:  # lose the late reply
        conn.execute("DELETE FROM digest.digest.raw_messages WHERE ts = ?", [late])
    context = dg.build_asset_check_context(
        instance=instance,
        resources={"warehouse": Warehouse(duckdb_path=duckdb_path), "slack": api_source(server)},
    )
    gap = raw_messages_reply_coverage(context)
    assert not gap.passed
    assert gap.metadata["replies_missing"].value == 1
    assert gap.metadata["incomplete_threads"].value == [f"C001:{parent} advertises 2, 1 stored"]
