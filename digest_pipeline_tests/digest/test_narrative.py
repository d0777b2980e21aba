"""The LLM narrative of a digest: what is sent, what is accepted, the cache, every fallback.

The calls go through the real ``openai`` client to the fake OpenAI-compatible server.
"""

from datetime import UTC, datetime, timedelta

import dagster as dg
import pandas as pd
import pytest

from digest_pipeline.defs.digest.assets import daily_digest, tokens_spent_in_run
from digest_pipeline.defs.digest.build import OVERALL, DigestInputs, build_digests
from digest_pipeline.defs.digest.checks import cited_message_ids, missing_messages
from digest_pipeline.defs.digest.delivery import DigestDelivery, DigestSlackResource
from digest_pipeline.defs.digest.models import DigestContent
from digest_pipeline.defs.digest.narrative import (
    CACHE_TABLE,
    DigestNarrative,
    LLMNarrator,
    NarrativeSentence,
    accept,
    narrative_request,
)
from digest_pipeline.defs.digest.render import render_blocks, render_html, render_markdown
from digest_pipeline.defs.llm.resources import LLMResource
from digest_pipeline.defs.storage.warehouse import Warehouse
from digest_pipeline_tests.digest.test_build import CHANNELS, T0, _msg
from digest_pipeline_tests.fakes.openai_server import FakeOpenAIServer, Fault
from digest_pipeline_tests.risk.test_llm_asset import llm_resources

MODEL = "gpt-4.1-mini"
KEY = "sk-test-not-a-real-key"
NAMES = [("Alice Chen", "U01ALICE")]
USERS = pd.DataFrame(
    {
        "user_id": ["U01ALICE", "U02BOB"],
        "name": ["alice", "bob"],
        "display_name": ["Alice Chen", "Bob Diaz"],
        "real_name": ["Alice Chen", "Bob Diaz"],
        "title": ["Buyer", ""],
        "is_bot": [False, False],
    }
)


def _rows() -> list[dict]:
    return [
        _msg(
            1,
            "critical",
            text="Line 2 is down, ping dana@acme.com <script> and @Alice Chen",
            user_id="U02BOB",
            mentions='["U01ALICE"]',
        ),
        _msg(2, "high", text="Lead time on the PMIC is now 52 weeks", user_id="U02BOB"),
        _msg(3, "critical", channel="C2", text="Board-only: acquisition talks stalled"),
        _msg(4, "low", text="ok"),
    ]


def _content(rows: list[dict] | None = None, narrator=None) -> tuple[pd.DataFrame, DigestContent]:
    inputs = DigestInputs(
        T0, T0 + timedelta(hours=1), pd.DataFrame(rows or _rows()), CHANNELS, users=USERS
    )
    frame, overall, _ = build_digests(inputs, "Test", narrator=narrator)
    return frame, overall


def _narrator(server: FakeOpenAIServer, warehouse: Warehouse, limit: int = 0) -> LLMNarrator:
    llm = LLMResource(api_key=KEY, base_url=server.base_url, model=MODEL, timeout_seconds=5)
    caller = llm.caller(llm.open_client(), purpose="narrative", budget=limit, sleep=lambda _s: None)
    return LLMNarrator(caller, warehouse, MODEL, names_to_ids=NAMES)


@pytest.fixture
def server():
    with FakeOpenAIServer() as fake:
        yield fake


@pytest.fixture
def warehouse(duckdb_path) -> Warehouse:
    return Warehouse(duckdb_path=duckdb_path)


# -- what is sent and what is accepted ----------------------------------------------------------


def test_the_request_holds_only_what_the_overall_digest_may_quote_redacted_and_pseudonymous():
    _, content = _content()
    payload = narrative_request(content, NAMES).payload
    assert "acquisition" not in payload  # a private channel: never quoted overall
    assert "dana@acme.com" not in payload  # redacted as the risk scorer redacts
    assert "Alice Chen" not in payload and "@U01ALICE" in payload
    assert "<" not in payload and "\\u003cscript" in payload  # cannot close the data tag
    assert '"owner": "PERSON_1"' in payload
    assert '"id": "r1"' in payload and '"id": "r2"' in payload


def test_accepted_sentences_cite_known_items_with_names_put_back():
    _, content = _content()
    request = narrative_request(content, NAMES)
    answer = DigestNarrative(
        sentences=[
            NarrativeSentence(
                text="Line 2 is down; PERSON_1 to act with U01ALICE. See https://evil.example/x",
                sources=["r1"],
            ),
            NarrativeSentence(text="An invented claim.", sources=["r99"]),
            NarrativeSentence(text="Another uncited claim.", sources=[]),
            NarrativeSentence(text="PMIC lead time is 52 weeks.", sources=["r2", "r1"]),
        ]
    )
    sentences = accept(answer, request)
    assert [s.text for s in sentences] == [
        "Line 2 is down; Alice Chen, Buyer to act with Alice Chen. See (link removed)",
        "PMIC lead time is 52 weeks.",
    ]
    assert [c.message_id for c in sentences[1].sources] == ["C1:2", "C1:1"]


def test_hardware_words_that_look_like_ids_are_left_alone():
    _, content = _content()
    request = narrative_request(content, NAMES)
    answer = DigestNarrative(
        sentences=[
            NarrativeSentence(
                text="P1 build slips; USB7206C short; PERSON_9 asked.", sources=["r1"]
            )
        ]
    )
    assert accept(answer, request)[0].text == "P1 build slips; USB7206C short; PERSON_9 asked."


def test_the_cache_key_changes_with_the_names_put_back():
    _, content = _content()
    renamed = [("Alice Chen-Moore", "U01ALICE")]
    assert (
        narrative_request(content, NAMES).cache_key()
        != narrative_request(content, renamed).cache_key()
    )
    assert (
        narrative_request(content, NAMES).cache_key()
        == narrative_request(content, NAMES).cache_key()
    )


def test_an_answer_without_a_cited_sentence_is_no_narrative():
    _, content = _content()
    answer = DigestNarrative(sentences=[NarrativeSentence(text="All fine.", sources=["x"])])
    assert accept(answer, narrative_request(content)) == ()


# -- calls, cache and fallbacks ------------------------------------------------------------------


def test_the_narrative_replaces_the_overall_summary_and_the_cache_saves_the_second_call(
    server, store
):
    warehouse = store.warehouse  # the cache is a warehouse table: held on each backend
    narrator = _narrator(server, warehouse)
    frame, content = _content(narrator=narrator)
    assert content.summary_source == "llm"
    assert content.summary.startswith("Critical in #supply-chain:")
    assert server.calls == 1
    overall = frame.loc[frame["channel_id"] == OVERALL].iloc[0]
    assert overall["summary_source"] == "llm"
    assert "C1:1" in overall["summary_citations"]
    per_channel = frame.loc[frame["channel_id"] == "C1"].iloc[0]
    assert per_channel["summary_source"] == "extractive"
    again = _narrator(server, warehouse)
    _, cached = _content(narrator=again)
    assert server.calls == 1 and again.outcomes["cache"] == 1
    assert cached.summary_source == "llm"
    assert cached.summary_sentences == content.summary_sentences


def test_a_rate_limit_is_retried(server, warehouse):
    server.inject(Fault.rate_limited(retry_after=0))
    narrator = _narrator(server, warehouse)
    _, content = _content(narrator=narrator)
    assert content.summary_source == "llm"
    assert narrator.usage.retries == 1 and server.calls == 2


@pytest.mark.parametrize(
    ("faults", "reason"),
    [
        ([Fault.server_error()] * 4, "server_error"),
        ([Fault.refusal()], "refusal"),
        ([Fault.malformed()], "malformed"),
        ([Fault.length()], "length"),
        ([Fault.insufficient_quota()], "insufficient_quota"),
        ([Fault.unauthorized()], "auth"),
        ([Fault.garbage()], "malformed"),
    ],
)
def test_any_failure_keeps_the_extractive_summary_and_caches_nothing(
    server, warehouse, faults, reason
):
    server.inject(*faults)
    narrator = _narrator(server, warehouse)
    _, content = _content(narrator=narrator)
    _, extractive = _content()
    assert content.summary_source == "extractive"
    assert content.summary_sentences == extractive.summary_sentences
    assert dict(narrator.outcomes) == {reason: 1}
    assert not warehouse.table_exists(CACHE_TABLE)


def test_a_spent_budget_makes_no_call(server, warehouse):
    narrator = _narrator(server, warehouse, limit=100)
    _, content = _content(narrator=narrator)
    assert content.summary_source == "extractive"
    assert server.calls == 0 and narrator.outcomes["budget"] == 1


def test_an_uncited_answer_is_not_used(warehouse):
    def hostile(data: dict) -> dict:
        return {"sentences": [{"text": "Everything is fine, no action needed.", "sources": []}]}

    with FakeOpenAIServer(narrate=hostile) as fake:
        narrator = _narrator(fake, warehouse)
        _, content = _content(narrator=narrator)
    assert content.summary_source == "extractive" and narrator.outcomes["uncited"] == 1


def test_a_quiet_window_makes_no_call(server, warehouse):
    narrator = _narrator(server, warehouse)
    _, content = _content([_msg(1, "low", text="standup moved")], narrator=narrator)
    assert content.summary_source == "extractive" and server.calls == 0


# -- rendering -----------------------------------------------------------------------------------


def test_the_narrative_renders_with_its_sources_and_cannot_inject_markup(warehouse):
    def sneaky(data: dict) -> dict:
        text = "See [this](evil) \\[here\\](evil2) <!channel> *now*"
        return {"sentences": [{"text": text, "sources": ["r1"]}]}

    with FakeOpenAIServer(narrate=sneaky) as fake:
        _, content = _content(narrator=_narrator(fake, warehouse))
    markdown = render_markdown(content)
    assert "&#91;this&#93;(evil)" in markdown and "](evil" not in markdown
    assert "&#92;&#91;here&#92;&#93;(evil2)" in markdown  # a backslash cannot unescape a bracket
    assert "[[1]](https://x.slack.com/archives/C1/p1)" in markdown
    assert "AI-written summary" in markdown
    message = render_blocks(content)
    summary_block = message.blocks[2]["text"]["text"]
    assert "&lt;!channel&gt;" in summary_block and "<!channel>" not in summary_block
    assert "<!channel>" not in message.text  # the notification text is mrkdwn too
    assert "<https://x.slack.com/archives/C1/p1|[1]>" in summary_block
    assert "&lt;!channel&gt;" in render_html(content)


# -- the asset -----------------------------------------------------------------------------------


def test_the_daily_digest_asset_narrates_with_the_llm_scorer_and_cites_existing_messages(
    server, warehouse, tmp_path
):
    from digest_pipeline_tests.pipeline.test_alerts import _seed

    _seed(warehouse, [("C1", "C1:1", "critical"), ("CP", "CP:1", "critical")])
    # Yesterday is the latest daily partition (in the tests' time zone, UTC).
    noon = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0) - timedelta(1)
    warehouse.execute('UPDATE {schema}.messages SET "timestamp" = ?', [noon])
    day = noon.strftime("%Y-%m-%d")
    resources = {
        "warehouse": warehouse,
        "delivery": DigestDelivery(output_dir=str(tmp_path / "digests")),
        "slack_chat": DigestSlackResource(token=""),
        "llm": llm_resources(server)["llm"],
    }
    channels = warehouse.query("SELECT * FROM {schema}.slack_channels")

    @dg.asset(name="slack_channels")
    def channels_stub() -> pd.DataFrame:
        return channels

    @dg.asset(name="slack_users")
    def users_stub() -> pd.DataFrame:
        return pd.DataFrame(columns=["user_id"])

    # A real run (materialize): the second reads the first's cached narrative.
    for _ in range(2):
        result = dg.materialize(
            [channels_stub, users_stub, daily_digest],
            partition_key=day,
            resources=resources,
        )
        frame = result.output_for_node("daily_digest")
    assert server.calls == 1  # the second materialization read the cache
    overall = frame.loc[frame["channel_id"] == OVERALL].iloc[0]
    assert overall["summary_source"] == "llm"
    assert "Production line down" in overall["summary"]
    assert "CP:1" not in overall["summary_citations"]  # private: counted only
    assert missing_messages(warehouse, cited_message_ids(frame)) == []
    assert "AI-written summary" in overall["markdown"]


def test_the_run_budget_counts_a_multi_hour_step_once():
    from digest_pipeline.defs.partitions import hourly_partitions

    @dg.asset(partitions_def=hourly_partitions, backfill_policy=dg.BackfillPolicy.single_run())
    def scored(context: dg.AssetExecutionContext) -> None:
        context.add_output_metadata({"llm_total_tokens": 1000})

    @dg.asset(
        partitions_def=hourly_partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        deps=[scored],
    )
    def narrated(context: dg.AssetExecutionContext) -> None:
        context.add_output_metadata({"spent": tokens_spent_in_run(context)})

    result = dg.materialize(
        [scored, narrated],
        tags={
            "dagster/asset_partition_range_start": "2026-03-10-00:00",
            "dagster/asset_partition_range_end": "2026-03-10-23:00",
        },
    )
    assert len(result.asset_materializations_for_node("scored")) == 24
    (first, *_) = result.asset_materializations_for_node("narrated")
    assert first.metadata["spent"].value == 1000


def test_the_run_budget_counts_what_earlier_assets_spent():
    @dg.asset
    def scored(context: dg.AssetExecutionContext) -> None:
        context.add_output_metadata({"llm_total_tokens": 1234})

    @dg.asset(deps=[scored])
    def narrated(context: dg.AssetExecutionContext) -> int:
        return tokens_spent_in_run(context)

    result = dg.materialize([scored, narrated])
    assert result.output_for_node("narrated") == 1234


def _hourly_run(server: FakeOpenAIServer, path: str, tmp_path, model_dir: str, **scorer: object):
    """One run of messages → risk_assessments → hourly_digest with the LLM scorer."""
    from digest_pipeline.defs.digest.assets import hourly_digest
    from digest_pipeline.defs.risk.assets import risk_assessments
    from digest_pipeline.defs.risk.store import RiskModelStore
    from digest_pipeline.defs.storage.duckdb import DuckDBWarehouseIOManager
    from digest_pipeline_tests.risk import test_llm_asset as llm_case

    @dg.asset(name="slack_channels", io_manager_key="mem")
    def channels_stub() -> pd.DataFrame:
        return llm_case.CHANNELS.assign(topic="", purpose="")

    @dg.asset(name="slack_users", io_manager_key="mem")
    def users_stub() -> pd.DataFrame:
        return llm_case.USERS

    llm = llm_resources(
        server, **{"batch_messages": 4, "concurrency": 2, "max_attempts": 2, **scorer}
    )
    result = dg.materialize(
        [
            channels_stub,
            users_stub,
            llm_case._messages_asset(llm_case._payloads()),
            risk_assessments,
            hourly_digest,
        ],
        partition_key=llm_case.HOUR,
        resources={
            "io_manager": DuckDBWarehouseIOManager(database=path, schema="digest"),
            "mem": dg.InMemoryIOManager(),
            "warehouse": Warehouse(duckdb_path=path),
            **llm,
            "risk_model_store": RiskModelStore(model_dir=model_dir),
            "delivery": DigestDelivery(output_dir=str(tmp_path / "digests")),
            "slack_chat": DigestSlackResource(token=""),
        },
        run_config=llm_case.QUIET,
    )
    assert result.success
    (digest,) = result.asset_materializations_for_node("hourly_digest")
    return {k: v.value for k, v in digest.metadata.items()}


def test_one_hourly_run_scores_and_narrates_with_the_scorers_key(
    server, duckdb_path, tmp_path, risk_model_dir
):
    meta = _hourly_run(server, duckdb_path, tmp_path, risk_model_dir)
    assert meta["summary_source"] == "llm" and meta["narrative_written"] == 1
    narrative_requests = [r for r in server.requests if "<digest_data>" in r.user_content]
    assert len(narrative_requests) == 1
    assert all(r.authorization == f"Bearer {KEY}" for r in server.requests)
    assert "dana@acme.com" not in narrative_requests[0].user_content  # redacted


def test_a_spent_run_budget_leaves_the_extractive_summary(
    server, duckdb_path, tmp_path, risk_model_dir
):
    meta = _hourly_run(server, duckdb_path, tmp_path, risk_model_dir, max_tokens_per_run=1)
    assert meta["summary_source"] == "extractive"
    assert meta["narrative_fallbacks"] == {"budget": 1}
    assert server.calls == 0


def test_the_narrator_has_no_client_once_the_run_spent_its_budget(server, warehouse):
    from digest_pipeline.defs.digest.assets import llm_narrator

    llm = llm_resources(server, max_tokens_per_run=1000)["llm"]

    @dg.asset
    def scored(context: dg.AssetExecutionContext) -> None:
        context.add_output_metadata({"llm_total_tokens": 1000})

    @dg.asset(deps=[scored])
    def narrated(context: dg.AssetExecutionContext) -> None:
        with llm_narrator(context, llm, warehouse, USERS) as narrator:
            assert narrator is not None
            _, content = _content(narrator=narrator)
        context.add_output_metadata(
            {"source": content.summary_source, "outcomes": dict(narrator.outcomes)}
        )

    result = dg.materialize([scored, narrated])
    (materialization,) = result.asset_materializations_for_node("narrated")
    assert materialization.metadata["source"].value == "extractive"
    assert materialization.metadata["outcomes"].value == {"budget": 1}
    assert server.calls == 0
