"""The LLM scorer against a fake OpenAI server, through the real ``openai`` client.

Every fault ends the same way: each input message is either judged by the model or reported
as a failure with its reason (the asset then gives it the rules assessment and marks it for
re-scoring). None is ever lost or judged twice.
"""

import openai
import pytest

from digest_pipeline.defs.llm.resources import LLMResource
from digest_pipeline.defs.risk.llm import LLMConfig, LLMItem, LLMOutcome, LLMRiskScorer
from digest_pipeline.defs.risk.prompt import ScoredBatch
from digest_pipeline_tests.fakes.openai_server import FakeOpenAIServer, Fault

KEY = "sk-test-not-a-real-key"

TEXTS = [
    ("C1:1", "C1:1", "Murata says the 0402 caps are on allocation, 40% of the PO through Q3"),
    ("C1:2", "C1:1", "same here, Yageo only gives us 30%"),
    ("C1:3", "C1:1", "do we have a second source qualified?"),
    ("C2:1", "C2:1", "two units from the field with swollen batteries, photos in the ticket"),
    ("C2:2", "C2:1", "pulling the lot numbers now"),
    ("C3:1", "C3:0", "customs hold on the Shenzhen shipment, missing HTS codes"),
    ("C4:1", "C4:1", "new lead time on the PMIC is 52 weeks"),
    ("C4:2", "C4:1", "that kills the Q3 build plan"),
    ("C5:1", "C5:1", "EVT retest passed, units look fine"),
    ("C6:1", "C6:1", "FCC pre-scan failed by 6 dB at 2.4 GHz"),
]


def _items() -> list[LLMItem]:
    return [
        LLMItem(
            message_id=mid,
            thread_id=tid,
            channel="supply-chain",
            author="U0" + mid[1],
            text=text,
            parent_text="Shipment status thread" if mid == "C3:1" else None,
        )
        for mid, tid, text in TEXTS
    ]


IDS = {mid for mid, _, _ in TEXTS}


def assert_nothing_lost(outcome: LLMOutcome) -> None:
    judged, failed = set(outcome.results), set(outcome.failures)
    assert judged | failed == IDS
    assert not judged & failed


@pytest.fixture
def server():
    with FakeOpenAIServer(api_key=KEY) as fake:
        yield fake


CONFIG_FIELDS = frozenset(LLMConfig.__dataclass_fields__)


def make_scorer(server: FakeOpenAIServer, waits: list[float] | None = None, **settings):
    """The scorer through an LLMResource on ``server``; ``settings`` are fields of the resource
    (its limits) or of LLMConfig (packing)."""
    # A resource takes unknown fields silently: a misspelt limit would test nothing.
    assert set(settings) <= CONFIG_FIELDS | set(LLMResource.model_fields), settings
    limits = {"concurrency": 2, "timeout_seconds": 5.0, "max_tokens_per_run": 0}
    limits |= {k: v for k, v in settings.items() if k not in CONFIG_FIELDS}
    llm = LLMResource(api_key=KEY, base_url=server.base_url, model="gpt-4.1-mini", **limits)
    config = LLMConfig(
        model=llm.model,
        **{"batch_messages": 4, **{k: v for k, v in settings.items() if k in CONFIG_FIELDS}},
    )
    sleep = (lambda s: None) if waits is None else waits.append
    caller = llm.caller(llm.open_client(), purpose="scoring", sleep=sleep)
    return LLMRiskScorer(caller, config)


def test_every_message_is_judged_once_with_batches_and_usage(server):
    outcome = make_scorer(server).score(_items())
    assert_nothing_lost(outcome)
    assert not outcome.failures
    assert outcome.results["C2:1"].risk_level == "critical"
    # 10 messages in 5 threads, 4 a batch, threads kept together where they fit: 3 requests.
    assert server.calls == 3
    assert outcome.usage.calls == 3
    assert outcome.usage.prompt_tokens > 0 and outcome.usage.completion_tokens > 0
    body = server.requests[0].body
    assert body["temperature"] == 0
    assert "tools" not in body and "functions" not in body
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["strict"] is True
    assert server.requests[0].authorization == f"Bearer {KEY}"


def test_the_system_prompt_is_a_constant_prefix_so_later_calls_hit_the_cache(server):
    outcome = make_scorer(server, concurrency=1).score(_items())
    systems = {r.system_content for r in server.requests}
    assert len(systems) == 1
    assert server.requests[0].body["messages"][0]["role"] == "system"
    assert outcome.usage.cached_tokens > 0


def test_429_waits_for_retry_after_then_succeeds(server):
    server.inject(Fault.rate_limited(retry_after=1.5))
    waits: list[float] = []
    outcome = make_scorer(server, waits, concurrency=1).score(_items())
    assert_nothing_lost(outcome)
    assert not outcome.failures
    assert waits == [pytest.approx(1.5, abs=0.05)]
    assert outcome.usage.rate_limited == 1 and outcome.usage.retries == 1
    assert outcome.usage.seconds_waited == pytest.approx(1.5, abs=0.05)


def test_a_retry_after_longer_than_the_limit_gives_up_on_that_batch_only(server):
    server.inject(Fault.rate_limited(retry_after=600))
    outcome = make_scorer(server, concurrency=1, max_retry_wait_seconds=60).score(_items())
    assert_nothing_lost(outcome)
    assert set(outcome.failures.values()) == {"rate_limited"}
    assert len(outcome.failures) == 4  # the first batch; the others were judged


def test_insufficient_quota_is_final_and_stops_all_calls(server):
    server.inject(Fault.insufficient_quota())
    waits: list[float] = []
    outcome = make_scorer(server, waits, concurrency=1).score(_items())
    assert_nothing_lost(outcome)
    assert set(outcome.failures.values()) == {"insufficient_quota"}
    assert len(outcome.failures) == len(IDS)
    assert server.calls == 1 and waits == []
    assert outcome.stopped == "insufficient_quota"


def test_server_errors_are_retried_with_backoff(server):
    server.inject(Fault.server_error(500), Fault.server_error(503))
    waits: list[float] = []
    outcome = make_scorer(server, waits, concurrency=1).score(_items())
    assert not outcome.failures
    assert len(waits) == 2 and all(0 < w <= 8 for w in waits)


def test_persistent_server_errors_fall_back_after_max_attempts(server):
    server.inject(*[Fault.server_error(500)] * 3)
    outcome = make_scorer(server, concurrency=1, max_attempts=3).score(_items())
    assert_nothing_lost(outcome)
    assert list(outcome.failures.values()) == ["server_error"] * 4


def test_a_timeout_is_retried(server):
    server.inject(Fault.delay(2.0))
    outcome = make_scorer(server, concurrency=1, timeout_seconds=0.4).score(_items())
    assert_nothing_lost(outcome)
    assert not outcome.failures
    assert outcome.usage.failed_calls == 1


def test_timeouts_on_every_attempt_fall_back(server):
    server.inject(Fault.delay(2.0), Fault.delay(2.0))
    outcome = make_scorer(server, concurrency=1, timeout_seconds=0.3, max_attempts=2).score(
        _items()
    )
    assert_nothing_lost(outcome)
    assert list(outcome.failures.values()) == ["timeout"] * 4


@pytest.mark.parametrize(
    ("fault", "calls"),
    [
        (Fault.malformed(), 3 + 1),  # the batch again, in one smaller batch
        (Fault.refusal(), 3 + 1),
        (Fault.garbage(), 3 + 1),
        (Fault.length(), 3 + 2),  # split in two halves
    ],
    ids=["malformed-json", "refusal", "non-json-body", "length-cut-off"],
)
def test_content_failures_are_retried_in_smaller_batches(server, fault, calls):
    server.inject(fault)
    outcome = make_scorer(server, concurrency=1).score(_items())
    assert_nothing_lost(outcome)
    assert not outcome.failures
    assert server.calls == calls


def test_a_message_refused_every_time_falls_back_alone(server):
    server.inject(*[Fault.refusal()] * 5, when=lambda content: "Murata" in content)
    outcome = make_scorer(server, concurrency=1, repair_batch_messages=1).score(_items())
    assert_nothing_lost(outcome)
    assert outcome.failures == {"C1:1": "refusal"}


def test_a_length_cut_off_on_one_message_falls_back(server):
    only = [i for i in _items() if i.message_id == "C6:1"]
    server.inject(Fault.length(), Fault.length())
    outcome = make_scorer(server).score(only)
    assert outcome.failures == {"C6:1": "length"}


def test_missing_ids_are_asked_again(server):
    server.inject(Fault.drop_ids(2))
    outcome = make_scorer(server, concurrency=1).score(_items())
    assert_nothing_lost(outcome)
    assert not outcome.failures
    assert len(server.requests[-1].ids) == 2  # only the two missing messages


def test_missing_ids_twice_fall_back(server):
    # The first batch is C1:1, C1:2, C1:3, C2:1: C2:1 (swollen batteries) goes missing twice.
    server.inject(*[Fault.drop_ids(1)] * 2, when=lambda content: "swollen" in content)
    outcome = make_scorer(server, concurrency=1).score(_items())
    assert_nothing_lost(outcome)
    assert outcome.failures == {"C2:1": "missing_id"}


def test_a_duplicated_id_is_not_trusted(server):
    server.inject(*[Fault.duplicate_ids()] * 2, when=lambda content: "Murata" in content)
    outcome = make_scorer(server, concurrency=1).score(_items())
    assert_nothing_lost(outcome)
    assert outcome.failures == {"C1:1": "duplicate_id"}


def test_unknown_ids_are_ignored_and_counted(server):
    server.inject(Fault.extra_ids())
    outcome = make_scorer(server, concurrency=1).score(_items())
    assert_nothing_lost(outcome)
    assert not outcome.failures
    assert outcome.usage.unexpected_ids == 1


def test_a_rejected_key_stops_calls(server):
    client = openai.OpenAI(api_key="sk-wrong", base_url=server.base_url, max_retries=0)
    llm = LLMResource(api_key="sk-wrong", base_url=server.base_url, model="m", concurrency=1)
    caller = llm.caller(client, purpose="scoring", sleep=lambda s: None)
    outcome = LLMRiskScorer(caller, LLMConfig(model="m", batch_messages=4)).score(_items())
    assert_nothing_lost(outcome)
    assert set(outcome.failures.values()) == {"auth"}
    assert outcome.stopped == "auth"
    assert server.calls == 1


def test_the_token_budget_stops_calls_and_the_rest_falls_back(server):
    # About one request's worth: the first batch fits, the others do not.
    scorer = make_scorer(server, concurrency=1)
    first = scorer._pack(_items(), 4)[0]
    budget = first.input_tokens + 50 + 120 * len(first.items) + 10
    outcome = make_scorer(server, concurrency=1, max_tokens_per_run=budget).score(_items())
    assert_nothing_lost(outcome)
    assert set(outcome.failures.values()) == {"budget"}
    assert len(outcome.results) == 4 and len(outcome.failures) == 6
    assert server.calls == 1
    assert outcome.usage.total_tokens <= budget


def test_concurrency_is_bounded():
    with FakeOpenAIServer(api_key=KEY, latency=0.2) as server:
        items = _items() * 1
        outcome = make_scorer(server, batch_messages=1, concurrency=3).score(items)
        assert not outcome.failures
        assert server.calls == len(items)
        assert server.max_in_flight == 3


def test_the_response_schema_is_strict_and_closed():
    from openai.lib._pydantic import to_strict_json_schema

    schema = to_strict_json_schema(ScoredBatch)
    item = schema["$defs"]["ScoredMessage"]
    assert item["additionalProperties"] is False
    assert set(item["required"]) == set(item["properties"])
    assert item["properties"]["risk_level"]["enum"] == ["low", "medium", "high", "critical"]


# -- a key without quota, a shared stop, and adaptive concurrency under 429


def _many_items(n: int) -> list[LLMItem]:
    return [
        LLMItem(
            message_id=f"C9:{i}",
            thread_id=f"C9:{i}",
            channel="supply-chain",
            author="U01",
            text=f"lot {i}: supplier pushed the ship date out by {i % 5 + 1} weeks",
        )
        for i in range(n)
    ]


def test_a_key_without_quota_costs_one_call_at_any_concurrency(server):
    server.inject(Fault.insufficient_quota())
    outcome = make_scorer(server, concurrency=8, batch_messages=1).score(_many_items(30))
    # The first request goes alone; the pool would fan out only after a success.
    assert server.calls == 1
    assert set(outcome.failures.values()) == {"insufficient_quota"}
    assert len(outcome.failures) == 30 and not outcome.results


def test_the_stop_is_shared_by_every_caller_of_the_key_in_the_process(server):
    server.inject(Fault.unauthorized())
    client = openai.OpenAI(api_key=KEY, base_url=server.base_url, max_retries=0, timeout=5)
    make_scorer(server).score(_items()[:1])
    # Another caller (the digest narrative, say) with its own client for the same key and server.
    other = LLMResource(api_key=KEY, base_url=server.base_url).caller(client, purpose="narrative")
    reply = other.parse(
        [{"role": "user", "content": "x"}], ScoredBatch, input_tokens=10, max_output_tokens=10
    )
    assert reply.reason == "auth"
    assert server.calls == 1


def test_the_pool_fans_out_after_the_first_success():
    with FakeOpenAIServer(api_key=KEY, latency=0.05) as server:
        outcome = make_scorer(server, concurrency=4, batch_messages=1).score(_many_items(12))
        assert not outcome.failures
        assert server.max_in_flight == 4
        assert outcome.usage.lowest_concurrency == 4  # never limited


def test_every_third_call_rate_limited_slows_down_instead_of_giving_up():
    with FakeOpenAIServer(api_key=KEY, rate_limit_every=3, rate_limit_retry_after=1) as server:
        waits: list[float] = []
        items = _many_items(120)
        outcome = make_scorer(server, waits, concurrency=8, batch_messages=2).score(items)
        assert set(outcome.results) | set(outcome.failures) == {i.message_id for i in items}
        assert len(outcome.failures) <= 0.05 * len(items)
        assert outcome.usage.rate_limited >= server.calls // 3 - 1
        assert outcome.usage.lowest_concurrency < 8  # it narrowed
        assert waits and max(waits) <= 1.0  # waited what the server asked, no more
