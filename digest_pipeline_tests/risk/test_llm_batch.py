"""The Batch API's request file and result parser (submission and polling are not wired yet)."""

import json

from digest_pipeline.defs.risk.batch import ENDPOINT, parse_output, request_lines
from digest_pipeline.defs.risk.llm import LLMConfig, LLMItem, TokenCounter, pack_batches
from digest_pipeline.defs.risk.openai_calls import LLMUsage
from digest_pipeline_tests.fakes.openai_server import rules_judge

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
    results, failures = parse_output(output, batches, CONFIG, usage)
    assert set(results) | set(failures) == {i.message_id for i in ITEMS}
    assert not set(results) & set(failures)
    assert failures == {"C:3": "missing_id", "C:4": "batch_missing"}
    assert results["C:2"].risk_level in ("high", "critical")
    assert usage.calls == 2 and usage.prompt_tokens == 200
