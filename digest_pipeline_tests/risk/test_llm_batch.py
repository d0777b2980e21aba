"""The Batch API: the request file and result parser, then backfills in batch mode against the
fake files and batches endpoints, driven by the real ``openai`` client: submit, wait, collect
through ``llm_batch_sensor``, re-run from the cache; expired, failed and overdue batches."""

import json

import dagster as dg
import pytest

from digest_pipeline.defs.llm.calls import LLMUsage
from digest_pipeline.defs.llm.tokens import TokenCounter
from digest_pipeline.defs.risk.batch import (
    BATCHES_TABLE,
    COLLECT_TAG,
    ENDPOINT,
    llm_batch_sensor,
    parse_output,
    request_lines,
    request_map,
)
from digest_pipeline.defs.risk.llm import LLMConfig, LLMItem, pack_batches
from digest_pipeline_tests.fakes.openai_server import FakeOpenAIServer, rules_judge
from digest_pipeline_tests.risk.test_llm_asset import KEY, Pipeline

CONFIG = LLMConfig(model="gpt-4.1-mini")
TEXTS = [
    "PMIC lead time is 52 weeks",
    "customs hold in Rotterdam",
    "FCC pre-scan failed by 6 dB",
    "standup at 10",
    "battery swelling on two units",
]
ITEMS = [LLMItem(f"C:{i}", f"C:{i}", "ops", "U1", text) for i, text in enumerate(TEXTS)]


def _output_line(request: dict, *, drop: bool = False) -> str:
    data = request["body"]["messages"][1]["content"].split("<slack_data>\n")[1]
    threads = json.loads(data.split("\n</slack_data>")[0])
    verdicts = [
        {"id": m["id"], **rules_judge(m["text"], t["channel"], None)}
        for t in threads
        for m in t["messages"]
    ]
    if drop:
        verdicts = verdicts[:-1]
    body = {
        "choices": [
            {
                "message": {"content": json.dumps({"assessments": verdicts})},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 100, "completion_tokens": 20},
    }
    return json.dumps(
        {"custom_id": request["custom_id"], "response": {"status_code": 200, "body": body}}
    )


def test_every_message_is_accounted_for_once_from_a_batch_output_file():
    batches = pack_batches(ITEMS, max_messages=2, max_input_tokens=9_999, counter=TokenCounter())
    requests = [json.loads(line) for line in request_lines(batches, CONFIG)]
    assert len(requests) == 3 and {r["url"] for r in requests} == {ENDPOINT}
    assert requests[0]["body"]["response_format"]["json_schema"]["strict"] is True
    assert requests[0]["body"]["temperature"] == 0
    assert len({r["custom_id"] for r in requests}) == 3
    assert request_lines(batches, CONFIG) == request_lines(batches, CONFIG)  # idempotent ids
    # The second request lost an ID; the third never came back.
    output = [_output_line(requests[0]), _output_line(requests[1], drop=True), ""]
    usage = LLMUsage()
    hashes = {item.message_id: f"h{item.message_id}" for item in ITEMS}
    mapping = request_map(batches, CONFIG, hashes)
    results, failures = parse_output(output, mapping, usage)
    assert set(results) | set(failures) == set(hashes.values())
    assert not set(results) & set(failures)
    assert failures == {"hC:3": "missing_id", "hC:4": "batch_missing"}
    assert results["hC:2"][0] == "C:2" and results["hC:2"][1].risk_level in ("high", "critical")
    assert usage.calls == 2 and usage.prompt_tokens == 200


def test_a_hostile_output_file_costs_counted_failures_not_a_crash():
    batches = pack_batches(ITEMS, max_messages=5, max_input_tokens=9_999, counter=TokenCounter())
    requests = [json.loads(line) for line in request_lines(batches, CONFIG)]
    mapping = request_map(batches, CONFIG, {i.message_id: i.message_id for i in ITEMS})
    line = json.loads(_output_line(requests[0]))
    line["response"]["body"]["choices"][0]["message"]["content"] = '{"assessments": [{"id": 1}]}'
    garbage = ["not json", "[1, 2]", json.dumps({"custom_id": "unknown"}), json.dumps(line)]
    usage = LLMUsage()
    results, failures = parse_output(garbage, mapping, usage)
    assert not results and set(failures.values()) == {"malformed"}
    assert len(failures) == len(ITEMS) and usage.unexpected_ids == 1


# -- backfills in batch mode, end to end


@pytest.fixture
def server():
    with FakeOpenAIServer(api_key=KEY) as fake:
        yield fake


def _sensor(pipeline: Pipeline) -> dg.SensorResult | dg.SkipReason:
    with dg.build_sensor_context(
        resources={"llm": pipeline.llm, "warehouse": pipeline.warehouse}
    ) as context:
        return llm_batch_sensor(context)


def _batches(pipeline: Pipeline):
    return pipeline.warehouse.query(f"SELECT * FROM {{schema}}.{BATCHES_TABLE}")


def _collect(pipeline: Pipeline) -> dict:
    result = _sensor(pipeline)
    assert isinstance(result, dg.SensorResult) and len(result.run_requests) == 1
    request = result.run_requests[0]
    assert request.asset_selection == [dg.AssetKey("risk_assessments")]
    assert request.tags["dagster/asset_partition_range_start"] == "2026-03-10-15:00"
    return pipeline.run(tags={COLLECT_TAG: request.tags[COLLECT_TAG]})


def test_a_backfill_in_batch_mode_submits_then_collects_without_a_live_call(
    duckdb_path, server, risk_model_dir
):
    pipeline = Pipeline(duckdb_path, server, risk_model_dir, mode="batch")
    assert isinstance(_sensor(pipeline), dg.SkipReason) and not server.batch_api_calls
    meta = pipeline.run()
    assert server.calls == 0  # no chat completion: the Batch API only
    assert meta["llm_mode"] == "batch" and len(meta["llm_batch_ids"]) == 1
    pending = meta["llm_batch_submitted"]
    assert pending == len(pipeline.payloads) - meta["triaged"] > 0
    (batch_id,) = server.batches
    requests = server.batch_requests(batch_id)
    assert {r["url"] for r in requests} == {ENDPOINT} and len(requests) == meta[
        "llm_batch_requests"
    ]
    rows = pipeline.rows()
    waiting = rows[rows["fallback_reason"] == "batch_pending"]
    assert len(waiting) == pending and waiting["needs_rescore"].all()
    assert set(waiting["judgement"]) == {"fallback"}

    # A re-run while the batch is open submits nothing new.
    again = pipeline.run()
    assert again["llm_batch_already_open"] == pending and "llm_batch_ids" not in again
    assert len(server.batches) == 1
    assert isinstance(_sensor(pipeline), dg.SkipReason)  # still in progress

    server.finish_batches()
    collected = _collect(pipeline)
    assert server.calls == 0 and collected["cache_hits"] == pending
    assert collected["llm_mode"] == "collect"
    rows = pipeline.rows()
    assert not rows["needs_rescore"].any()
    assert (rows["judgement"] == "llm").sum() == pending
    recorded = _batches(pipeline).iloc[0]
    assert recorded["status"] == "completed" and recorded["answered"] == pending
    assert isinstance(_sensor(pipeline), dg.SkipReason)  # nothing open any more


def test_an_expired_batch_keeps_the_rest_on_the_model_marked_and_resubmits_later(
    duckdb_path, server, risk_model_dir
):
    pipeline = Pipeline(duckdb_path, server, risk_model_dir, mode="batch", batch_messages=2)
    meta = pipeline.run()
    server.finish_batches("expired", answered=1)  # one request of several came back
    _collect(pipeline)
    rows = pipeline.rows()
    expired = rows[rows["fallback_reason"] == "batch_expired"]
    assert (rows["judgement"] == "llm").sum() == 2
    assert len(expired) == meta["llm_batch_submitted"] - 2 and expired["needs_rescore"].all()
    assert len(server.batches) == 1  # collecting submits nothing
    # The next run in batch mode submits only what is still missing.
    retry = pipeline.run()
    assert retry["llm_batch_submitted"] == len(expired) and len(server.batches) == 2


def test_a_batch_past_its_deadline_is_cancelled_and_collected(duckdb_path, server, risk_model_dir):
    pipeline = Pipeline(duckdb_path, server, risk_model_dir, mode="batch", batch_deadline_hours=0)
    pipeline.run()
    assert isinstance(_sensor(pipeline), dg.SkipReason)
    assert ("POST", f"/v1/batches/{next(iter(server.batches))}/cancel") in server.batch_api_calls
    server.finish_batches(answered=0)  # the cancellation completes, nothing answered
    _collect(pipeline)
    rows = pipeline.rows()
    assert set(rows.loc[rows["needs_rescore"], "fallback_reason"]) == {"batch_cancelled"}


def test_a_run_tag_puts_one_backfill_in_batch_mode(duckdb_path, server, risk_model_dir):
    pipeline = Pipeline(duckdb_path, server, risk_model_dir)  # live by default
    meta = pipeline.run(tags={"digest/llm_mode": "batch"})
    assert meta["llm_mode"] == "batch" and server.calls == 0 and len(server.batches) == 1


def test_batch_bookkeeping_on_each_backend(store, server):
    import openai

    from digest_pipeline.defs.risk import batch, cache

    warehouse = store.warehouse
    client = openai.OpenAI(api_key=KEY, base_url=server.base_url, max_retries=0)
    packed = pack_batches(ITEMS, max_messages=2, max_input_tokens=9_999, counter=TokenCounter())
    hashes = {item.message_id: f"h{item.message_id}" for item in ITEMS}
    submitted = batch.submit(
        client, warehouse, packed, hashes, CONFIG, partitions=("a", "b"), deadline_hours=24
    )
    assert len(submitted.batch_ids) == 1 and submitted.messages == len(ITEMS)
    assert batch.pending_hashes(warehouse, CONFIG) == set(hashes.values())
    server.finish_batches()
    done, waiting = batch.collect(client, warehouse)
    assert not waiting and [(c.status, c.answered) for c in done] == [("completed", len(ITEMS))]
    assert batch.pending_hashes(warehouse, CONFIG) == set()
    found = cache.lookup(
        warehouse, list(hashes.values()), model=CONFIG.model, prompt_version=CONFIG.prompt_version
    )
    assert set(found) == set(hashes.values())


def test_a_batch_gone_from_the_server_does_not_stop_the_others(duckdb_path, server, risk_model_dir):
    # Found by an independent probe: one 404 made every later tick fail.
    pipeline = Pipeline(duckdb_path, server, risk_model_dir, mode="batch")
    pipeline.run()
    (batch_id,) = server.batches
    server.batches.pop(batch_id)
    result = _sensor(pipeline)
    assert isinstance(result, dg.SensorResult) and len(result.run_requests) == 1
    pipeline.run(tags={COLLECT_TAG: batch_id})
    rows = pipeline.rows()
    assert set(rows.loc[rows["needs_rescore"], "fallback_reason"]) == {"batch_gone"}


def test_a_completed_batch_says_why_it_did_not_judge_a_message(duckdb_path, server, risk_model_dir):
    # Found by an independent probe: rows read "batch_completed", which sounds like success.
    pipeline = Pipeline(duckdb_path, server, risk_model_dir, mode="batch", batch_messages=2)
    pipeline.run()
    server.finish_batches(answered=1)  # completed, but only the first request answered
    _collect(pipeline)
    rows = pipeline.rows()
    assert set(rows.loc[rows["needs_rescore"], "fallback_reason"]) == {"batch_missing"}
