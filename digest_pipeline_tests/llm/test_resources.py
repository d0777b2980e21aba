"""``LLMResource``: one key, server, model and set of limits for every LLM user, through the real
``openai`` client against the fake server."""

import dagster as dg
import pytest

from digest_pipeline.defs.llm.calls import CallPolicy
from digest_pipeline.defs.llm.resources import LOCAL_SERVER_KEY, LLMResource, build_llm_resource
from digest_pipeline.defs.risk.llm import LLMConfig
from digest_pipeline.defs.risk.prompt import (
    PromptMessage,
    PromptThread,
    ScoredBatch,
    build_messages,
)
from digest_pipeline.settings import Settings
from digest_pipeline_tests.fakes.openai_server import FakeOpenAIServer

KEY = "sk-test-llm-resource-key"
MESSAGES = build_messages(
    [PromptThread("supply-chain", (PromptMessage("m1", "U01", "PMIC lead time is 52 weeks"),))]
)


@pytest.fixture
def server():
    with FakeOpenAIServer(api_key=KEY) as fake:
        yield fake


def test_a_caller_uses_the_resources_key_server_and_model_and_counts_its_purpose(server):
    llm = LLMResource(api_key=KEY, base_url=server.base_url, model="gpt-4.1-nano")
    with llm.client() as client:
        caller = llm.caller(client, purpose="evaluation")
        reply = caller.parse(MESSAGES, ScoredBatch, input_tokens=500, max_output_tokens=200)
    assert reply.kind == "ok" and [a.id for a in reply.parsed.assessments] == ["m1"]
    (request,) = server.requests
    assert request.authorization == f"Bearer {KEY}"
    assert request.body["model"] == "gpt-4.1-nano" and request.body["temperature"] == 0
    assert caller.usage.calls == 1 and caller.usage.purpose == "evaluation"
    assert caller.usage.as_metadata("gpt-4.1-nano")["llm_calls_by_purpose"] == {"evaluation": 1}


def test_the_client_leaves_retries_to_the_caller_unless_asked():
    llm = LLMResource(base_url="http://127.0.0.1:9/v1", timeout_seconds=7.5)
    with llm.client() as client:
        assert client.max_retries == 0 and client.timeout == 7.5
        assert client.api_key == LOCAL_SERVER_KEY
    with llm.client(max_retries=2) as client:  # the files and batches endpoints
        assert client.max_retries == 2


def test_a_callers_budget_defaults_to_the_runs_and_stops_before_the_call(server):
    llm = LLMResource(api_key=KEY, base_url=server.base_url, max_tokens_per_run=100)
    with llm.client() as client:
        caller = llm.caller(client, purpose="narrative")
        assert caller.budget.limit == 100
        reply = caller.parse(MESSAGES, ScoredBatch, input_tokens=500, max_output_tokens=200)
        assert reply.reason == "budget"
        # What is left of the run's budget after another asset's calls.
        assert llm.caller(client, purpose="narrative", budget=40).budget.limit == 40
    assert server.calls == 0


def test_the_key_is_only_ever_bound_as_an_env_var():
    bound = build_llm_resource(Settings(has_openai_key=True))
    assert isinstance(bound.api_key, dg.EnvVar) and bound.api_key.env_var_name == "OPENAI_API_KEY"
    assert bound.enabled
    local = build_llm_resource(
        Settings(
            scorer="llm",
            llm_model="llama3",
            openai_base_url="http://127.0.0.1:11434/v1",
            llm_concurrency=2,
        )
    )
    assert local.api_key == LOCAL_SERVER_KEY and local.concurrency == 2 and local.enabled
    assert local.model == "llama3"
    # With a key but another scorer chosen, nothing calls the LLM.
    assert not build_llm_resource(Settings(has_openai_key=True, scorer="model")).enabled


def test_each_limit_is_declared_once_on_the_resource_and_reaches_the_caller():
    llm = LLMResource(
        base_url="http://127.0.0.1:9/v1",
        model="m",
        concurrency=3,
        max_tokens_per_run=77,
        max_attempts=5,
        backoff_seconds=0.25,
        max_retry_wait_seconds=9.0,
        max_rate_limited=2,
    )
    with llm.client() as client:
        caller = llm.caller(client, purpose="scoring")
    assert caller.policy == CallPolicy(
        "m", max_attempts=5, backoff_seconds=0.25, max_retry_wait_seconds=9.0, max_rate_limited=2
    )
    assert caller.limiter.maximum == 3 and caller.budget.limit == 77
    # The scorer's own settings say how to pack requests, not how hard to call.
    limits = {"max_attempts", "timeout_seconds", "concurrency", "max_tokens_per_run"}
    assert not limits & set(LLMConfig.__dataclass_fields__)
