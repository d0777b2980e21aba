"""Permanent Slack errors fail the step at once: no Dagster retry, no client retry.

The real ``slack_sdk.WebClient`` talks to the fake Slack server; ``raw_messages`` carries a
``RetryPolicy`` for transient failures (30 s, then 90 s), so a bad token that were treated as
transient would cost minutes and three ``auth.test`` calls.
"""

import time
from collections.abc import Iterator

import dagster as dg
import pytest

from digest_pipeline.defs.slack.assets import raw_messages, slack_channels, slack_users
from digest_pipeline.defs.slack.models import SlackCallError
from digest_pipeline.defs.slack.resources import slack_failure
from digest_pipeline.defs.storage.duckdb import DuckDBWarehouseIOManager
from digest_pipeline.defs.storage.warehouse import Warehouse
from digest_pipeline_tests.fakes.slack_server import FakeSlackServer, FakeWorkspace, Fault
from digest_pipeline_tests.slack.test_assets import KEY10, InstantSlackSource

pytestmark = pytest.mark.chaos

TOKEN = "xoxb-permanent-test-token"


@pytest.fixture
def server() -> Iterator[FakeSlackServer]:
    workspace = FakeWorkspace()
    workspace.add_user("U001", "ana")
    workspace.add_channel("C001", "supply-chain")
    with FakeSlackServer(workspace, token=TOKEN) as srv:
        yield srv


def _materialize(
    server: FakeSlackServer, path: str, token: str, selection: list[dg.AssetsDefinition]
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [slack_channels, slack_users, raw_messages],
        selection=selection,
        partition_key=KEY10 if raw_messages in selection else None,
        instance=dg.DagsterInstance.ephemeral(),
        resources={
            "slack": InstantSlackSource(kind="slack", token=token, base_url=server.base_url),
            "warehouse": Warehouse(duckdb_path=path),
            "io_manager": DuckDBWarehouseIOManager(database=path, schema="digest"),
        },
        raise_on_error=False,
    )


@pytest.mark.parametrize("code", ["invalid_auth", "token_revoked", "missing_scope"])
def test_a_permanent_slack_error_fails_raw_messages_at_once_without_retries(
    server: FakeSlackServer, duckdb_path: str, code: str
) -> None:
    # The channel list is read with a good token; the token then stops working.
    assert _materialize(server, duckdb_path, TOKEN, [slack_channels]).success
    before = len(server.requests)
    server.inject("auth.test", *[Fault.error(code)] * 3)

    began = time.monotonic()
    result = _materialize(server, duckdb_path, TOKEN, [raw_messages])
    seconds = time.monotonic() - began

    assert not result.success
    assert seconds < 30
    assert len(server.requests) - before <= 2
    assert [e.event_type_value for e in result.all_events if e.is_step_up_for_retry] == []
    failure = next(e for e in result.all_events if e.is_step_failure)
    message = failure.step_failure_data.error.message
    assert code in message
    assert ("SLACK_BOT_TOKEN" in message) == (code != "missing_scope")
    assert TOKEN not in str(failure)


def test_a_transient_slack_failure_stays_retryable() -> None:
    failure = slack_failure(SlackCallError("conversations.history", "server_error: HTTP 503"))
    assert failure.allow_retries is True
