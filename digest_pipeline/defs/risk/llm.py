"""The LLM risk scorer: triage, thread batches, structured outputs, retries, budget, fallbacks.

How a partition is scored (see ``assets.py`` for the warehouse side):

1. The risk model scores every message (cheap, deterministic). Messages it is confident are low
   are *triaged*: they keep the model's low, no call (``assets.llm_items``).
2. The rest is grouped by thread (the parent first, then its replies; a parent from an earlier
   hour rides along as context only) and packed into requests of up to ``batch_messages``
   messages, each message under a short batch ID (``m1``, ``m2``, ...).
3. Requests run on up to ``concurrency`` threads through ``client.chat.completions.parse`` with
   the :class:`~digest_pipeline.defs.risk.prompt.ScoredBatch` schema at temperature 0. The first
   request goes alone; the pool fans out once it succeeds, and narrows again under 429s
   (:class:`~digest_pipeline.defs.llm.calls.AdaptiveLimiter`). Retries honour
   ``retry-after``; ``insufficient_quota`` and authentication errors stop every caller of the key
   in the process; a per-run token budget is reserved before each call and settled with the
   reported usage.
4. Every input ID must come back exactly once. Missing or duplicated IDs, refusals, malformed
   JSON and a cut-off batch are retried once in smaller batches (a cut-off batch is split in
   two first); what still fails is reported with its reason, and the caller gives it the rules
   assessment marked ``needs_rescore``. No message is ever dropped.
5. The final judgement keeps both levels: a critical the risk model is confident about is never
   lowered below high by the LLM (:func:`combine`).
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pandas as pd
from pydantic import ValidationError

from digest_pipeline.contract.enumerations import LEVEL_RANK
from digest_pipeline.defs.llm.calls import LLMUsage, StructuredCaller
from digest_pipeline.defs.llm.resources import LOCAL_SERVER_KEY, LLMResource
from digest_pipeline.defs.llm.text import prepare_text
from digest_pipeline.defs.llm.tokens import TokenCounter
from digest_pipeline.defs.risk.models import MAX_MITIGATIONS, RiskAssessment, Scorer, one_line
from digest_pipeline.defs.risk.playbook import mitigations
from digest_pipeline.defs.risk.prompt import (
    PROMPT_VERSION,
    SYSTEM_PROMPT,
    PromptMessage,
    PromptThread,
    ScoredBatch,
    ScoredMessage,
    build_messages,
    render_batch,
)
from digest_pipeline.defs.risk.rules import rules_scorer
from digest_pipeline.vocabulary import ACKNOWLEDGEMENT_WORDS

# --------------------------------------------------------------------------------------------
# Configuration


@dataclass(frozen=True)
class LLMConfig:
    """How the scorer packs its requests and whose answers they are (``model`` and
    ``prompt_version`` key the cache and the Batch API's custom IDs). How hard and how much to
    call (attempts, timeouts, backoff, 429 retries, concurrency, budget) is the
    :class:`~digest_pipeline.defs.llm.resources.LLMResource`'s, in its caller."""

    model: str
    prompt_version: str = PROMPT_VERSION
    batch_messages: int = 20
    batch_input_tokens: int = 6_000
    repair_batch_messages: int = 4
    output_tokens_per_message: int = 120
    batch_api: bool = False  # prices only: the Batch API costs half


# --------------------------------------------------------------------------------------------
# Items and batches


@dataclass(frozen=True)
class LLMItem:
    """One message to send: already redacted, authors as user IDs."""

    message_id: str
    thread_id: str
    channel: str | None
    author: str | None
    text: str
    parent_text: str | None = None
    parent_author: str | None = None


@dataclass(frozen=True)
class Batch:
    items: tuple[LLMItem, ...]
    threads: tuple[PromptThread, ...]
    ids: Mapping[str, str]  # batch ID -> message_id
    input_tokens: int

    @property
    def message_ids(self) -> list[str]:
        return [item.message_id for item in self.items]


_PROMPT_OVERHEAD_TOKENS = 40


def _make_batch(items: Sequence[LLMItem], counter: TokenCounter, system_tokens: int) -> Batch:
    threads: list[PromptThread] = []
    ids: dict[str, str] = {}
    current: list[PromptMessage] = []
    current_key: str | None = None
    current_channel: str | None = None
    parent: PromptMessage | None = None
    seen_in_batch: set[str] = set()

    def flush() -> None:
        if current:
            threads.append(PromptThread(current_channel, tuple(current), parent))

    for item in items:
        if item.thread_id != current_key:
            flush()
            current, current_key, current_channel = [], item.thread_id, item.channel
            # The parent is context only when it is not itself assessed in this batch.
            parent = None
            if item.message_id != item.thread_id and item.thread_id not in seen_in_batch:
                if item.parent_text:
                    parent = PromptMessage("", item.parent_author, item.parent_text)
        batch_id = f"m{len(ids) + 1}"
        ids[batch_id] = item.message_id
        seen_in_batch.add(item.message_id)
        current.append(PromptMessage(batch_id, item.author, item.text))
    flush()
    # The request's input as sent: the system prompt and schema, plus the rendered data.
    tokens = system_tokens + counter.count(render_batch(threads)) + _PROMPT_OVERHEAD_TOKENS
    return Batch(tuple(items), tuple(threads), ids, tokens)


def pack_batches(
    items: Sequence[LLMItem],
    *,
    max_messages: int,
    max_input_tokens: int,
    counter: TokenCounter,
    system_tokens: int = 0,
) -> list[Batch]:
    """Thread-ordered batches of at most ``max_messages`` messages and about
    ``max_input_tokens`` tokens of Slack text; a thread stays together when it fits."""
    by_thread: dict[str, list[LLMItem]] = {}
    for item in items:
        by_thread.setdefault(item.thread_id, []).append(item)
    batches: list[Batch] = []
    pending: list[LLMItem] = []
    pending_tokens = 0
    for thread_items in by_thread.values():
        # Parent first, then replies in input (time) order.
        thread_items.sort(key=lambda i: i.message_id != i.thread_id)
        for item in thread_items:
            cost = counter.count(item.text) + 12
            if pending and (
                len(pending) >= max_messages or pending_tokens + cost > max_input_tokens
            ):
                batches.append(_make_batch(pending, counter, system_tokens))
                pending, pending_tokens = [], 0
            pending.append(item)
            pending_tokens += cost
    if pending:
        batches.append(_make_batch(pending, counter, system_tokens))
    return batches


# --------------------------------------------------------------------------------------------
# Calling the API

FailureReason = str
# Content failures are worth one more try in smaller batches; transport failures are not.
REPAIRABLE = frozenset({"missing_id", "duplicate_id", "refusal", "malformed", "length", "invalid"})


@dataclass
class LLMOutcome:
    results: dict[str, RiskAssessment] = field(default_factory=dict)
    failures: dict[str, FailureReason] = field(default_factory=dict)
    usage: LLMUsage = field(default_factory=LLMUsage)
    stopped: str | None = None  # why calls stopped early (insufficient_quota, auth)

    @property
    def failure_counts(self) -> dict[str, int]:
        return dict(Counter(self.failures.values()))


def to_assessment(item: ScoredMessage) -> RiskAssessment:
    """The model's reply for one message as a validated RiskAssessment (bounded, one line)."""
    actions = [one_line(a) for a in item.mitigation_suggestions if a.strip()][:MAX_MITIGATIONS]
    if not actions and LEVEL_RANK[item.risk_level] >= LEVEL_RANK["high"]:
        actions = mitigations(item.risk_category, item.risk_level)
    return RiskAssessment(
        risk_level=item.risk_level,
        risk_category=item.risk_category,
        description=one_line(item.description) or "No description",
        confidence_score=item.confidence_score,
        mitigation_suggestions=actions,
        requires_attention=item.requires_attention,
    )


def prompt_tokens(counter: TokenCounter) -> int:
    """Tokens of what every request repeats: the system prompt and the answer's schema."""
    return counter.count(SYSTEM_PROMPT) + counter.count(json.dumps(ScoredBatch.model_json_schema()))


def pack_requests(
    items: Sequence[LLMItem],
    config: LLMConfig,
    *,
    max_messages: int | None = None,
    counter: TokenCounter | None = None,
) -> list[Batch]:
    """``items`` packed into requests as ``config`` says (live calls and Batch API alike)."""
    counter = counter or TokenCounter()
    return pack_batches(
        items,
        max_messages=max_messages or config.batch_messages,
        max_input_tokens=config.batch_input_tokens,
        counter=counter,
        system_tokens=prompt_tokens(counter),
    )


class LLMRiskScorer:
    """Scores :class:`LLMItem` batches through ``caller`` (from
    :meth:`~digest_pipeline.defs.llm.resources.LLMResource.caller`: its client has
    ``max_retries=0``, so quota errors stop and every wait is counted), on as many threads as
    the caller's limiter allows."""

    def __init__(
        self,
        caller: StructuredCaller,
        config: LLMConfig,
        *,
        counter: TokenCounter | None = None,
    ) -> None:
        self.config = config
        self.counter = counter or TokenCounter()
        self.system_tokens = prompt_tokens(self.counter)
        self.caller = caller

    # -- public

    def score(self, items: Sequence[LLMItem]) -> LLMOutcome:
        outcome = LLMOutcome(usage=self.caller.usage)
        if not items:
            return outcome
        by_id = {item.message_id: item for item in items}
        repair: dict[str, FailureReason] = {}
        self._round(self._pack(items, self.config.batch_messages), outcome, repair)
        if repair:
            retry_items = [by_id[m] for m in by_id if m in repair]
            again: dict[str, FailureReason] = {}
            self._round(self._pack(retry_items, self.config.repair_batch_messages), outcome, again)
            for message_id, reason in again.items():
                outcome.failures[message_id] = reason
        for message_id in by_id:
            if message_id not in outcome.results and message_id not in outcome.failures:
                outcome.failures[message_id] = "not_scored"
        outcome.stopped = self.caller.stopped
        outcome.usage.lowest_concurrency = self.caller.limiter.lowest
        return outcome

    # -- rounds and batches

    def _pack(self, items: Sequence[LLMItem], max_messages: int) -> list[Batch]:
        return pack_requests(items, self.config, max_messages=max_messages, counter=self.counter)

    def _round(
        self, batches: list[Batch], outcome: LLMOutcome, repair: dict[str, FailureReason]
    ) -> None:
        lock = threading.Lock()

        def run(batch: Batch) -> None:
            results, failures = self._run_batch(batch, outcome.usage)
            with lock:
                outcome.results.update(results)
                for message_id, reason in failures.items():
                    if reason in REPAIRABLE:
                        repair[message_id] = reason
                    else:
                        outcome.failures[message_id] = reason

        workers = max(1, min(self.caller.limiter.maximum, len(batches)))
        if workers == 1:
            for batch in batches:
                run(batch)
            return
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="llm") as pool:
            for future in [pool.submit(run, batch) for batch in batches]:
                future.result()

    def _run_batch(
        self, batch: Batch, usage: LLMUsage
    ) -> tuple[dict[str, RiskAssessment], dict[str, FailureReason]]:
        reply = self.caller.parse(
            build_messages(batch.threads),
            ScoredBatch,
            input_tokens=batch.input_tokens,
            max_output_tokens=50 + self.config.output_tokens_per_message * len(batch.items),
        )
        if reply.kind == "length" and len(batch.items) > 1:
            usage.add(split_batches=1)
            half = len(batch.items) // 2
            results: dict[str, RiskAssessment] = {}
            failures: dict[str, FailureReason] = {}
            for part in (batch.items[:half], batch.items[half:]):
                r, f = self._run_batch(_make_batch(part, self.counter, self.system_tokens), usage)
                results.update(r)
                failures.update(f)
            return results, failures
        if reply.kind != "ok":
            return {}, dict.fromkeys(batch.message_ids, reply.reason or "length")
        if reply.parsed is None:
            return {}, dict.fromkeys(batch.message_ids, "refusal" if reply.refusal else "malformed")
        return self._check_ids(batch, reply.parsed, usage)

    def _check_ids(
        self, batch: Batch, parsed: ScoredBatch, usage: LLMUsage
    ) -> tuple[dict[str, RiskAssessment], dict[str, FailureReason]]:
        counts = Counter(item.id for item in parsed.assessments)
        unexpected = sum(n for batch_id, n in counts.items() if batch_id not in batch.ids)
        if unexpected:
            usage.add(unexpected_ids=unexpected)
        results: dict[str, RiskAssessment] = {}
        failures: dict[str, FailureReason] = {}
        by_id = {item.id: item for item in parsed.assessments}
        for batch_id, message_id in batch.ids.items():
            n = counts.get(batch_id, 0)
            if n == 0:
                failures[message_id] = "missing_id"
            elif n > 1:
                failures[message_id] = "duplicate_id"
            else:
                try:
                    results[message_id] = to_assessment(by_id[batch_id])
                except ValidationError:
                    failures[message_id] = "invalid"
        return results, failures


# --------------------------------------------------------------------------------------------
# Triage, inputs and the final judgement

_EMOJI = re.compile(r":[a-z0-9_+'-]+:|[\u2600-\u27bf\U0001f000-\U0001faff\ufe0f\u200d]")
_MENTION = re.compile(r"@[\w.-]+")
# Words in any script: a Japanese or Thai message has words even without one ASCII letter.
_WORD = re.compile(r"[\w+']+")
MAX_TRIVIAL_WORDS = 6


def is_trivial(text: str | None) -> bool:
    """Acknowledgements, greetings, emoji and +1s: nothing a risk model could add to. Any word
    outside the (English) acknowledgement list, in any script, makes a message non-trivial."""
    if text is None:
        return True
    low = _MENTION.sub(" ", _EMOJI.sub(" ", text.lower()))
    words = _WORD.findall(low)
    if len(words) > MAX_TRIVIAL_WORDS:
        return False
    if any(ch.isdigit() for ch in low.replace("+1", "")):
        return False
    return all(word in ACKNOWLEDGEMENT_WORDS for word in words)


JUDGEMENTS = ("model", "rules", "triage", "llm", "model_floor", "fallback")


@dataclass(frozen=True)
class Provenance:
    scorer: str
    model: str
    prompt_version: str


def combine(
    base: pd.DataFrame,
    llm: Mapping[str, RiskAssessment],
    failures: Mapping[str, FailureReason],
    triaged: Iterable[str],
    *,
    floor: Iterable[str] = (),
    llm_provenance: Provenance,
) -> pd.DataFrame:
    """The final rows: ``base`` (contract-shaped assessments of the risk model, one per
    ``message_id``) overridden by the LLM's judgements, with both levels kept.

    A message in ``floor`` (the model is confident it is critical) answered by the LLM with
    ``low``/``medium`` keeps the model's row (``judgement='model_floor'``): the LLM may lower a
    confident critical to high, never below. Failed messages keep the model's row with
    ``needs_rescore``; ``triaged`` ones (confidently low) were never sent.
    """
    frame = base.copy()
    frame["llm_risk_level"] = None
    frame["fallback_reason"] = None
    triaged_set = set(triaged)
    floor_set = set(floor)
    ids = frame["message_id"].tolist()
    columns = {name: frame[name].tolist() for name in frame.columns}
    for i, message_id in enumerate(ids):
        if message_id in triaged_set:
            columns["judgement"][i] = "triage"
            continue
        judged = llm.get(message_id)
        if judged is None:
            columns["judgement"][i] = "fallback"
            columns["fallback_reason"][i] = failures.get(message_id, "not_scored")
            columns["needs_rescore"][i] = True
            continue
        columns["llm_risk_level"][i] = judged.risk_level
        if message_id in floor_set and judged.level_rank < LEVEL_RANK["high"]:
            columns["judgement"][i] = "model_floor"
            continue
        columns["judgement"][i] = "llm"
        columns["risk_level"][i] = judged.risk_level
        columns["risk_category"][i] = judged.risk_category
        columns["description"][i] = judged.description
        columns["confidence_score"][i] = float(judged.confidence_score)
        columns["mitigation_suggestions"][i] = json.dumps(judged.mitigation_suggestions)
        columns["requires_attention"][i] = bool(judged.requires_attention)
        columns["scorer"][i] = llm_provenance.scorer
        columns["model"][i] = llm_provenance.model
        columns["prompt_version"][i] = llm_provenance.prompt_version
    out = pd.DataFrame(columns, index=frame.index)
    for name in ("message_timestamp", "created_at"):
        if name in out:
            out[name] = pd.to_datetime(out[name], utc=True)
    out["confidence_score"] = out["confidence_score"].astype(float)
    out["requires_attention"] = out["requires_attention"].astype(bool)
    out["needs_rescore"] = out["needs_rescore"].astype(bool)
    return out


def floor_assessment(rules: RiskAssessment, judged: RiskAssessment) -> RiskAssessment:
    """One message's final judgement (the per-message form of :func:`combine`)."""
    if rules.risk_level == "critical" and judged.level_rank < LEVEL_RANK["high"]:
        return rules
    return judged


# --------------------------------------------------------------------------------------------
# digest-eval --scorer llm


def usage_report(usage: LLMUsage, model: str, fallbacks: Mapping[str, int], base_url: str) -> str:
    """``digest-eval``'s closing line: calls, tokens and the cost at list prices, which a local
    server (a fake, Ollama) never charges."""
    meta = usage.as_metadata(model)
    host = (urlsplit(base_url).hostname or "").lower()
    local = host in ("localhost", "::1") or host.startswith("127.")
    cost = f"{meta['llm_estimated_cost_usd']} USD at {model} list prices" + (
        f" (the server at {host} is local: nothing was charged)" if local else ""
    )
    return (
        f"digest-eval: LLM {model}: {meta['llm_calls']} calls, "
        f"{meta['llm_prompt_tokens']} prompt + {meta['llm_completion_tokens']} completion "
        f"tokens ({meta['llm_cached_tokens']} cached), estimated cost {cost}; "
        f"rules fallbacks: {dict(fallbacks) or 0}\n"
    )


def build_eval_scorer(env: Mapping[str, str] | None = None) -> Scorer:
    """A :data:`Scorer` for ``digest-eval``: one message per request (the harness scores one at
    a time), triage and the rules floor as in the pipeline, rules on failure. Usage and the
    estimated cost are printed to stderr when the process exits."""
    import atexit
    import sys

    from digest_pipeline.settings import DEFAULT_LLM_MODEL

    env = os.environ if env is None else env
    # One request at a time and no run budget: the harness scores message by message.
    llm = LLMResource(
        api_key=env.get("OPENAI_API_KEY") or LOCAL_SERVER_KEY,
        base_url=env.get("OPENAI_BASE_URL") or None,
        model=env.get("DIGEST_LLM_MODEL") or DEFAULT_LLM_MODEL,
        concurrency=1,
        max_tokens_per_run=0,
    )
    client = llm.open_client()
    config = LLMConfig(model=llm.model)
    scorer = LLMRiskScorer(llm.caller(client, purpose="scoring"), config)
    usage = LLMUsage()
    fallbacks: Counter[str] = Counter()

    def score(text: str, channel: str | None, thread_context: str | None) -> RiskAssessment:
        rules = rules_scorer(text, channel, thread_context)
        if rules.risk_level == "low" and is_trivial(text):
            return rules
        item = LLMItem(
            message_id="eval",
            thread_id="eval-thread" if thread_context else "eval",
            channel=channel,
            author=None,
            text=prepare_text(text),
            parent_text=prepare_text(thread_context) if thread_context else None,
        )
        outcome = scorer.score([item])
        for name in ("calls", "prompt_tokens", "completion_tokens", "cached_tokens", "retries"):
            usage.add(**{name: getattr(outcome.usage, name)})
        judged = outcome.results.get("eval")
        if judged is None:
            fallbacks[outcome.failures.get("eval", "not_scored")] += 1
            return rules
        return floor_assessment(rules, judged)

    def report() -> None:
        sys.stderr.write(usage_report(usage, config.model, fallbacks, str(client.base_url)))

    atexit.register(report)
    return score
