"""Delivery against the fake Slack server, through the real slack_sdk WebClient."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from digest_pipeline.defs.digest.build import DigestInputs, build_digests
from digest_pipeline.defs.digest.delivery import (
    POSTS_TABLE,
    DigestSlackResource,
    deliver_digest,
    digest_path,
    write_digest_files,
)
from digest_pipeline.defs.digest.render import render_blocks
from digest_pipeline.defs.llm.resources import LLMResource
from digest_pipeline.defs.storage.warehouse import Warehouse
from digest_pipeline_tests.fakes.slack_chat import FakeChatWorkspace
from digest_pipeline_tests.fakes.slack_server import FakeSlackServer, Fault

T0 = datetime(2026, 3, 10, tzinfo=UTC)
CHANNELS = pd.DataFrame(
    [{"channel_id": "C1", "name": "supply-chain", "is_private": False, "topic": "", "purpose": ""}]
)


def _content(description: str = "PMIC on allocation"):
    frame = pd.DataFrame(
        [
            {
                "id": "C1:1.000100",
                "channel_id": "C1",
                "channel": "supply-chain",
                "user": "dan",
                "timestamp": T0 + timedelta(hours=9),
                "content": "TI put the PMIC on allocation, 40 wk",
                "permalink": "https://x.slack.com/archives/C1/p1000100",
                "is_reply": False,
                "parent_id": None,
                "risk_level": "high",
                "risk_category": "supply_chain",
                "description": description,
                "confidence_score": 0.8,
                "requires_attention": True,
            }
        ]
    )
    inputs = DigestInputs(T0, T0 + timedelta(days=1), frame, CHANNELS)
    return build_digests(inputs, "Daily digest 2026-03-10", kind="daily", trend_freq="h")[1]


@pytest.fixture
def slack():
    workspace = FakeChatWorkspace()
    workspace.add_channel("CDIGEST", "gtm-digest")
    workspace.add_channel("COUT", "outsiders", is_member=False)
    with FakeSlackServer(workspace, token="xoxb-test") as server:
        yield server, workspace


def _client(server: FakeSlackServer):
    return DigestSlackResource(token="xoxb-test", base_url=server.base_url).get_client()


def test_slack_resource_is_dagster_slacks_with_a_base_url(slack):
    server, _ = slack
    client = _client(server)
    assert client.base_url == server.base_url
    assert client.auth_test()["ok"]


def test_posting_then_rematerializing_updates_the_same_post(slack, duckdb_path):
    server, workspace = slack
    warehouse = Warehouse(duckdb_path=duckdb_path)
    first = deliver_digest(
        _client(server), warehouse, digest="daily_digest", partition_key="2026-03-10",
        channel="#gtm-digest", message=render_blocks(_content()),
    )  # fmt: skip
    second = deliver_digest(
        _client(server), warehouse, digest="daily_digest", partition_key="2026-03-10",
        channel="#gtm-digest", message=render_blocks(_content("PMIC allocation: 52 wk now")),
    )  # fmt: skip
    assert (first.action, second.action) == ("posted", "updated")
    assert (first.channel_id, first.ts) == (second.channel_id, second.ts) == ("CDIGEST", first.ts)
    posts = workspace.top_level_posts("CDIGEST")
    assert len(posts) == 1 and posts[0]["edits"] == 1
    assert "52 wk now" in str(posts[0]["blocks"])
    details = workspace.replies_to("CDIGEST", first.ts)
    assert len(details) == 1 and details[0]["edits"] == 1  # the thread reply is updated too
    assert workspace.calls_of("chat.postMessage") == 2  # post + its details reply, once
    assert workspace.calls_of("chat.update") == 2
    rows = warehouse.query("SELECT * FROM {schema}." + POSTS_TABLE)
    assert len(rows) == 1 and rows.iloc[0]["updates"] == 1


def test_a_deleted_post_is_posted_again(slack, duckdb_path):
    server, workspace = slack
    warehouse = Warehouse(duckdb_path=duckdb_path)
    first = deliver_digest(
        _client(server), warehouse, digest="daily_digest", partition_key="2026-03-10",
        channel="gtm-digest", message=render_blocks(_content()),
    )  # fmt: skip
    workspace.call("chat.delete", {"channel": "CDIGEST", "ts": first.ts})
    again = deliver_digest(
        _client(server), warehouse, digest="daily_digest", partition_key="2026-03-10",
        channel="gtm-digest", message=render_blocks(_content()),
    )  # fmt: skip
    assert again.action == "reposted" and again.ts != first.ts
    assert len(workspace.top_level_posts("CDIGEST")) == 1


def test_another_partition_is_another_post(slack, duckdb_path):
    server, workspace = slack
    warehouse = Warehouse(duckdb_path=duckdb_path)
    for key in ("2026-03-10", "2026-03-11"):
        deliver_digest(
            _client(server), warehouse, digest="daily_digest", partition_key=key,
            channel="gtm-digest", message=render_blocks(_content()),
        )  # fmt: skip
    assert len(workspace.top_level_posts("CDIGEST")) == 2


def test_a_rate_limited_post_is_retried_by_the_sdk(slack, duckdb_path):
    server, workspace = slack
    server.inject("chat.postMessage", Fault.rate_limited(retry_after=0))
    result = deliver_digest(
        _client(server), Warehouse(duckdb_path=duckdb_path), digest="daily_digest",
        partition_key="2026-03-10", channel="gtm-digest", message=render_blocks(_content()),
    )  # fmt: skip
    assert result.action == "posted"
    assert len(workspace.top_level_posts("CDIGEST")) == 1


def test_a_channel_the_bot_is_not_in_fails_with_one_clear_line(slack, duckdb_path):
    server, _ = slack
    with pytest.raises(dg.Failure, match=r"to outsiders failed: not_in_channel \(invite the bot"):
        deliver_digest(
            _client(server), Warehouse(duckdb_path=duckdb_path), digest="daily_digest",
            partition_key="2026-03-10", channel="outsiders", message=render_blocks(_content()),
        )  # fmt: skip


def test_digest_files_are_written_per_partition(tmp_path):
    paths = write_digest_files(
        str(tmp_path), "hourly", "2026-03-10-14:00", markdown="# hi", html="<p>hi</p>",
        block_kit={"post": {"text": "hi", "blocks": []}, "thread": []},
    )  # fmt: skip
    assert paths == [
        str(digest_path(str(tmp_path), "hourly", "2026-03-10-14:00", "md")),
        str(tmp_path / "hourly" / "2026-03-10-1400.html"),
        str(tmp_path / "hourly" / "2026-03-10-1400.slack.json"),
    ]
    assert (tmp_path / "hourly" / "2026-03-10-1400.md").read_text() == "# hi"
    assert json.loads(Path(paths[2]).read_text())["post"]["text"] == "hi"
    assert not list(tmp_path.rglob("*.tmp"))


def _daily_run(warehouse, channels, day, *, server, output_dir, token: bool):
    from digest_pipeline.defs.digest.assets import daily_digest
    from digest_pipeline.defs.digest.delivery import DigestDelivery

    context = dg.build_asset_context(partition_key=day)
    daily_digest(
        context,
        warehouse=warehouse,
        slack_channels=channels,
        slack_users=pd.DataFrame(columns=["user_id"]),
        delivery=DigestDelivery(
            post_channel="gtm-digest" if token else None, can_post=token, output_dir=output_dir
        ),
        slack_chat=DigestSlackResource(
            token="xoxb-test" if token else "", base_url=server.base_url
        ),
        llm=LLMResource(enabled=False),
    )
    return context.get_output_metadata("result")


def test_the_block_kit_file_is_what_slack_receives_with_or_without_a_token(
    slack, duckdb_path, tmp_path
):
    from digest_pipeline_tests.pipeline.test_alerts import _seed, seeded_day

    server, workspace = slack
    warehouse = Warehouse(duckdb_path=duckdb_path)
    _seed(warehouse, [("C1", "C1:1", "critical"), ("C1", "C1:2", "high")])
    channels = warehouse.query("SELECT * FROM {schema}.slack_channels")
    day = seeded_day()
    posted = _daily_run(
        warehouse, channels, day, server=server, output_dir=str(tmp_path / "a"), token=True
    )
    offline = _daily_run(
        warehouse, channels, day, server=server, output_dir=str(tmp_path / "b"), token=False
    )
    path = Path(posted["block_kit_file"].value)
    assert path == tmp_path / "a" / "daily" / f"{day}.slack.json"
    payload = json.loads(path.read_text(encoding="utf-8"))
    (post,) = workspace.top_level_posts("CDIGEST")
    replies = workspace.replies_to("CDIGEST", post["ts"])
    assert payload["post"] == {"text": post["text"], "blocks": post["blocks"]}
    assert payload["thread"] == [{"text": r["text"], "blocks": r["blocks"]} for r in replies]
    assert len(payload["thread"]) == len(replies) >= 1
    # Untrusted text is escaped exactly as in the post: Slack would read <C1:1> as a link.
    assert "Line stopped &lt;C1:1&gt;" in path.read_text(encoding="utf-8")
    assert "Line stopped <C1:1>" not in path.read_text(encoding="utf-8")
    # Without a token nothing is posted, and the preview is the same file.
    assert offline["slack_delivery"] == "not configured"
    offline_path = Path(offline["block_kit_file"].value)
    assert json.loads(offline_path.read_text(encoding="utf-8")) == payload
    assert workspace.calls_of("chat.postMessage") == 1 + len(replies)


def test_the_daily_digest_asset_posts_then_updates_its_post(slack, duckdb_path, tmp_path):
    from digest_pipeline.defs.digest.assets import daily_digest
    from digest_pipeline.defs.digest.delivery import DigestDelivery
    from digest_pipeline_tests.pipeline.test_alerts import _seed, seeded_day

    server, workspace = slack
    warehouse = Warehouse(duckdb_path=duckdb_path)
    _seed(warehouse, [("C1", "C1:1", "critical"), ("CP", "CP:1", "critical")])
    day = seeded_day()
    channels = warehouse.query("SELECT * FROM {schema}.slack_channels")
    resources = {
        "warehouse": warehouse,
        "delivery": DigestDelivery(
            post_channel="gtm-digest", can_post=True, output_dir=str(tmp_path / "digests")
        ),
        "slack_chat": DigestSlackResource(token="xoxb-test", base_url=server.base_url),
        "llm": LLMResource(enabled=False),
    }
    for _ in range(2):
        frame = daily_digest(
            dg.build_asset_context(partition_key=day),
            slack_channels=channels,
            slack_users=pd.DataFrame(columns=["user_id"]),
            **resources,
        )
    (post,) = workspace.top_level_posts("CDIGEST")
    assert post["edits"] == 1
    assert "Production line down" in str(post["blocks"])
    assert "Line stopped &lt;CP:1&gt;" not in str(post["blocks"])  # private: counted only
    assert (tmp_path / "digests" / "daily" / f"{day}.html").exists()
    assert frame.loc[frame["channel_id"] == "*", "hidden_message_count"].iloc[0] == 1


def test_each_risk_line_gets_one_reply_recorded_and_a_rerun_posts_none_again(slack, duckdb_path):
    from digest_pipeline.defs.digest.delivery import recorded_lines
    from digest_pipeline.defs.digest.line_replies import risk_line_replies

    server, workspace = slack
    warehouse = Warehouse(duckdb_path=duckdb_path)
    content = _content("PMIC on <!channel> allocation")
    lines = risk_line_replies(content)
    assert [line.message_ids for line in lines] == [("C1:1.000100",)]
    args = {
        "digest": "daily_digest", "partition_key": "2026-03-10", "channel": "gtm-digest",
        "message": render_blocks(content), "lines": lines,
    }  # fmt: skip
    results = [deliver_digest(_client(server), warehouse, **args) for _ in range(2)]
    assert [r.line_replies for r in results] == [1, 1]
    replies = workspace.replies_to("CDIGEST", results[0].ts)
    assert len(replies) == 2  # the details and the one risk line, posted once
    line_reply = replies[1]
    assert line_reply["edits"] == 1  # the re-run updated it
    assert "&lt;!channel&gt;" in line_reply["blocks"][0]["text"]["text"]
    assert ":x: not a risk" in str(line_reply["blocks"][1])
    (row,) = warehouse.query("SELECT line_replies FROM {schema}." + POSTS_TABLE).itertuples()
    (record,) = recorded_lines(row.line_replies)
    assert record["ts"] == line_reply["ts"]
    assert (record["message_ids"], record["thread_ids"], record["level"]) == (
        ["C1:1.000100"], ["C1:1.000100"], "high",
    )  # fmt: skip


def test_a_failed_line_reply_keeps_what_was_posted_so_the_retry_posts_no_duplicate(
    slack, duckdb_path
):
    from digest_pipeline.defs.digest.line_replies import risk_line_replies

    server, workspace = slack
    warehouse = Warehouse(duckdb_path=duckdb_path)
    content = _content()
    args = {
        "digest": "daily_digest", "partition_key": "2026-03-10", "channel": "gtm-digest",
        "message": render_blocks(content), "lines": risk_line_replies(content),
    }  # fmt: skip
    # The post and its details go through; the line reply hits a permanent error.
    workspace_calls = []
    original = workspace._post

    def post_then_fail(params):
        workspace_calls.append(params)
        if len(workspace_calls) == 3:
            return {"ok": False, "error": "invalid_auth"}
        return original(params)

    workspace._post = post_then_fail
    with pytest.raises(dg.Failure, match="invalid_auth"):
        deliver_digest(_client(server), warehouse, **args)
    assert server.calls("chat.postMessage") == 3  # no retry of a permanent error
    result = deliver_digest(_client(server), warehouse, **args)
    assert result.action == "updated"
    assert len(workspace.replies_to("CDIGEST", result.ts)) == 2
    assert len(workspace.top_level_posts("CDIGEST")) == 1
