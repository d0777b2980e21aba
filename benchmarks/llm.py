"""LLM scoring benchmark: a 10k-message demo day against a fake OpenAI server with fixed latency.

    python benchmarks/llm.py                         # scale 3.4 (~10k messages), 300 ms a call
    python benchmarks/llm.py --repeat 3 --latency 0.3 --concurrency 8 --naive-sample 400

What it measures, on the demo workspace's busiest kind of day (a weekday):

* ``ours`` — the pipeline's LLM path: the risk model everywhere (trained before the clock
  starts), its confident lows in words it knows triaged, the rest in thread batches (``--batch``
  messages a request) on up to ``--concurrency`` threads (the first request alone, then the
  adaptive limiter);
* ``re-run`` — the same day again through the warehouse cache: calls made;
* ``429`` (with ``--rate-limit-every N``) — ours again against a server that answers every
  N-th request 429 with ``retry-after: 1``: fallbacks and the slowdown;
* ``naive`` — one request per message (same system prompt, the parent as context), every message,
  on the same concurrency. Run on a random ``--naive-sample`` of messages and extrapolated to the
  day (per-message tokens are measured; its wall time is its concurrency bound, which it meets).

The fake server runs in a separate process (so its JSON work does not share our GIL) and reports
usage like the API: prompt tokens ~ bytes/4 of the request, cached tokens for a repeated system
prompt. ``bound`` is ceil(calls / concurrency) x latency: the best any client could do with that
many calls and that concurrency. Prints a Markdown table for the README.
"""

import argparse
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

DAY = datetime(2026, 3, 10, tzinfo=UTC)  # a Tuesday


def _serve(latency: float, rate_limit_every: int = 0) -> None:
    from digest_pipeline_tests.fakes.openai_server import FakeOpenAIServer

    with FakeOpenAIServer(latency=latency, rate_limit_every=rate_limit_every) as server:
        sys.stdout.write(server.base_url + "\n")
        sys.stdout.flush()
        sys.stdin.read()  # until the parent closes the pipe


class Server:
    """The fake OpenAI server in a child process."""

    def __init__(self, latency: float, rate_limit_every: int = 0) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "_serve", str(latency), str(rate_limit_every)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.base_url = self.proc.stdout.readline().strip()

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def demo_day(scale: float):
    """The day's ``messages`` rows from the demo workspace, as the pipeline builds them."""
    import pandas as pd

    from digest_pipeline.defs.enrichment.enrich import enrich_messages
    from digest_pipeline.defs.slack.extract import (
        ChannelSelection,
        Window,
        extract_window,
        list_channels,
        list_users,
    )
    from digest_pipeline.demo.workspace import DemoWorkspace

    ws = DemoWorkspace(seed=7, scale=scale, now=DAY + timedelta(days=3))
    channels = list_channels(ws)
    selection = ChannelSelection()
    ids = [c["id"] for c in channels if selection.skip_reason(c) is None]
    result = extract_window(ws, ids, Window(DAY, DAY + timedelta(days=1)))
    raw = pd.DataFrame([m.as_row("demo", datetime.now(UTC)) for m in result.messages])
    users = pd.DataFrame(
        [
            {
                "user_id": u["id"],
                "name": u.get("name", ""),
                "display_name": (u.get("profile") or {}).get("display_name", ""),
                "real_name": u.get("real_name", ""),
                "is_bot": bool(u.get("is_bot")),
            }
            for u in list_users(ws)
        ]
    )
    chans = pd.DataFrame(
        [
            {"channel_id": c["id"], "name": c["name"], "is_private": c.get("is_private")}
            for c in channels
        ]
    )
    return enrich_messages(raw, users, chans).frame, users


def bench_llm(base_url, concurrency):
    """The LLM resource both runs call: the fake server, ``concurrency`` in flight, no budget
    (the benchmark measures every call)."""
    from digest_pipeline.defs.llm.resources import LLMResource

    return LLMResource(
        api_key="sk-bench",
        base_url=base_url,
        model="gpt-4.1-mini",
        concurrency=concurrency,
        max_tokens_per_run=0,
    )


def run_ours(base_url, messages, users, args, warehouse):

    from digest_pipeline.defs.risk import cache
    from digest_pipeline.defs.risk.assets import assess_messages, thread_contexts
    from digest_pipeline.defs.risk.llm import LLMConfig, LLMRiskScorer
    from digest_pipeline.defs.risk.scoring import llm_items, model_assessments
    from digest_pipeline.defs.risk.store import default_model
    from digest_pipeline.defs.slack.people import PeopleDirectory

    model = default_model()
    pairs = list(PeopleDirectory.from_users(users).names_to_ids)
    began = time.perf_counter()
    contexts = thread_contexts(messages, None)
    texts = messages["content"].tolist()
    _, predictions = model_assessments(
        assess_messages(messages, contexts),
        texts,
        contexts.tolist(),
        model,
        channels=messages["channel"].tolist(),
    )
    confident_low = model.llm_skip(texts, predictions)
    skip = {m for m, s in zip(messages["id"], confident_low.tolist(), strict=True) if s}
    items, triaged, hashes = llm_items(messages, contexts, skip, pairs)
    llm = bench_llm(base_url, args.concurrency)
    config = LLMConfig(model=llm.model, batch_messages=args.batch)
    hit = cache.lookup(
        warehouse, list(hashes.values()), model=config.model, prompt_version=config.prompt_version
    )
    todo = [i for i in items if hashes[i.message_id] not in hit]
    client = llm.open_client()
    scorer = LLMRiskScorer(llm.caller(client, purpose="scoring"), config)
    llm_began, cpu_began = time.perf_counter(), time.process_time()
    outcome = scorer.score(todo)
    llm_wall = time.perf_counter() - llm_began
    llm_cpu = time.process_time() - cpu_began
    cache.store(
        warehouse,
        {hashes[m]: (m, a) for m, a in outcome.results.items()},
        model=config.model,
        prompt_version=config.prompt_version,
    )
    wall = time.perf_counter() - began
    u = outcome.usage
    return {
        "messages": len(messages),
        "triaged": len(triaged),
        "cache_hits": len(items) - len(todo),
        "sent": len(todo),
        "calls": u.calls,
        "prompt_tokens": u.prompt_tokens,
        "cached_tokens": u.cached_tokens,
        "completion_tokens": u.completion_tokens,
        "fallbacks": len(outcome.failures),
        "rate_limited": u.rate_limited,
        "lowest_concurrency": u.lowest_concurrency,
        "llm_wall_s": llm_wall,
        "llm_cpu_s": llm_cpu,
        "wall_s": wall,
        "cost": u.as_metadata(config.model)["llm_estimated_cost_usd"],
    }


def run_naive(base_url, messages, args):

    from digest_pipeline.defs.llm.text import prepare_text
    from digest_pipeline.defs.risk.assets import thread_contexts
    from digest_pipeline.defs.risk.llm import LLMConfig, LLMItem, LLMRiskScorer

    rng = random.Random(1)
    sample = messages.iloc[sorted(rng.sample(range(len(messages)), args.naive_sample))]
    contexts = thread_contexts(messages, None).iloc[sample.index]
    items = [
        LLMItem(
            message_id=mid,
            thread_id=mid,
            channel=channel,
            author=user,
            text=prepare_text(text or ""),
            parent_text=prepare_text(ctx) if isinstance(ctx, str) else None,
        )
        for mid, channel, user, text, ctx in zip(
            sample["id"],
            sample["channel"],
            sample["user_id"],
            sample["content"],
            contexts,
            strict=True,
        )
    ]
    # A parent given as context to a one-message thread: pass it as the "parent" field.
    items = [
        LLMItem(
            i.message_id,
            f"{i.message_id}#t" if i.parent_text else i.message_id,
            i.channel,
            i.author,
            i.text,
            i.parent_text,
        )
        for i in items
    ]
    llm = bench_llm(base_url, args.concurrency)
    config = LLMConfig(model=llm.model, batch_messages=1)
    client = llm.open_client()
    began = time.perf_counter()
    outcome = LLMRiskScorer(llm.caller(client, purpose="scoring"), config).score(items)
    wall = time.perf_counter() - began
    u = outcome.usage
    n = len(items)
    return {
        "sample": n,
        "calls_per_message": u.calls / n,
        "prompt_per_message": u.prompt_tokens / n,
        "cached_per_message": u.cached_tokens / n,
        "completion_per_message": u.completion_tokens / n,
        "wall_s": wall,
        "cost_per_message": u.as_metadata(config.model)["llm_estimated_cost_usd"] / n,
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=3.4)
    parser.add_argument("--latency", type=float, default=0.3)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--naive-sample", type=int, default=400)
    parser.add_argument("--rate-limit-every", type=int, default=3)
    args = parser.parse_args()

    import warnings

    warnings.filterwarnings("ignore")
    from digest_pipeline.defs.risk.store import default_model
    from digest_pipeline.defs.storage.warehouse import Warehouse

    t = time.perf_counter()
    default_model()  # trained (or loaded) before any clock starts
    messages, users = demo_day(args.scale)
    print(
        f"demo day {DAY:%Y-%m-%d} at scale {args.scale}: {len(messages)} messages "
        f"(built in {time.perf_counter() - t:.1f} s)",
        flush=True,
    )
    runs, reruns = [], []
    for i in range(args.repeat):
        server = Server(args.latency)
        with tempfile.TemporaryDirectory() as tmp:
            warehouse = Warehouse(duckdb_path=os.path.join(tmp, "bench.duckdb"))
            first = run_ours(server.base_url, messages, users, args, warehouse)
            again = run_ours(server.base_url, messages, users, args, warehouse)
        server.close()
        runs.append(first)
        reruns.append(again)
        print(
            f"  run {i + 1}: "
            + json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in first.items()}),
            flush=True,
        )
        print(
            f"  re-run {i + 1}: calls={again['calls']} cache_hits={again['cache_hits']} "
            f"wall={again['wall_s']:.2f}s",
            flush=True,
        )
    limited = None
    if args.rate_limit_every:
        server = Server(args.latency, args.rate_limit_every)
        with tempfile.TemporaryDirectory() as tmp:
            warehouse = Warehouse(duckdb_path=os.path.join(tmp, "bench.duckdb"))
            limited = run_ours(server.base_url, messages, users, args, warehouse)
        server.close()
        print(
            f"  every {args.rate_limit_every}rd call 429: "
            + json.dumps(
                {k: round(v, 3) if isinstance(v, float) else v for k, v in limited.items()}
            ),
            flush=True,
        )
    server = Server(args.latency)
    naive = run_naive(server.base_url, messages, args)
    server.close()
    print(f"  naive sample: {json.dumps({k: round(v, 5) for k, v in naive.items()})}", flush=True)

    n = len(messages)
    r = runs[0]
    bound = math.ceil(r["calls"] / args.concurrency) * args.latency
    llm_walls = [x["llm_wall_s"] for x in runs]
    walls = [x["wall_s"] for x in runs]
    ours_tokens = (r["prompt_tokens"] + r["completion_tokens"]) / n
    naive_tokens = naive["prompt_per_message"] + naive["completion_per_message"]
    naive_calls = n
    naive_bound = math.ceil(naive_calls / args.concurrency) * args.latency
    naive_wall = naive["wall_s"] * naive_calls / naive["sample"]
    load = os.getloadavg()
    print()
    print(
        f"| {n:,} messages, {args.latency * 1000:.0f} ms a call, concurrency "
        f"{args.concurrency} | ours (batch {args.batch}) | naive (1 call/message) | ratio |"
    )
    print("|---|---|---|---|")
    print(f"| calls | {r['calls']:,} | {naive_calls:,} | {naive_calls / r['calls']:.0f}x fewer |")
    print(f"| messages sent to the model | {r['sent']:,} ({r['triaged']:,} triaged) | {n:,} | |")
    print(
        f"| tokens per message (prompt + completion) | {ours_tokens:.0f} | {naive_tokens:.0f} "
        f"| {naive_tokens / ours_tokens:.1f}x fewer |"
    )
    print(
        f"| of which cached prompt tokens | {r['cached_tokens'] / n:.0f} "
        f"| {naive['cached_per_message']:.0f} | |"
    )
    print(
        f"| estimated cost, gpt-4.1-mini prices | ${r['cost']:.2f} | "
        f"${naive['cost_per_message'] * n:.2f} | |"
    )
    print(
        f"| LLM wall time, median (min-max) of {len(runs)} | "
        f"{statistics.median(llm_walls):.1f} s ({min(llm_walls):.1f}-{max(llm_walls):.1f}) "
        f"| {naive_wall:.0f} s (extrapolated from {naive['sample']}) | |"
    )
    print(
        f"| concurrency bound ceil(calls/{args.concurrency}) x latency | {bound:.1f} s | "
        f"{naive_bound:.0f} s | |"
    )
    print(
        f"| wall / bound | {statistics.median(llm_walls) / bound:.2f} | "
        f"{naive_wall / naive_bound:.2f} | |"
    )
    cpus = [x["llm_cpu_s"] for x in runs]
    print(
        f"| client CPU time during the LLM phase, median | {statistics.median(cpus):.1f} s "
        f"({1000 * statistics.median(cpus) / r['calls']:.0f} ms a call) | | |"
    )
    print(
        f"| whole scoring step (rules, triage, cache, LLM), median | "
        f"{statistics.median(walls):.1f} s | | |"
    )
    print(
        f"| re-run of the day: calls | {max(x['calls'] for x in reruns)} "
        f"({reruns[0]['cache_hits']:,} cache hits, "
        f"{statistics.median(x['wall_s'] for x in reruns):.1f} s) | "
        f"{naive_calls:,} | |"
    )
    print(f"| fallbacks | {sum(x['fallbacks'] for x in runs)} | | |")
    if limited is not None:
        print(
            f"| every {args.rate_limit_every}rd call answered 429 (retry-after 1 s): fallbacks, "
            f"LLM wall time, lowest concurrency | {limited['fallbacks']} of {limited['sent']:,} "
            f"({limited['rate_limited']} 429s), {limited['llm_wall_s']:.0f} s, "
            f"{limited['lowest_concurrency']} | | |"
        )
    print(
        f"\nload average during the run: {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} "
        f"on {os.cpu_count()} cores"
    )
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "_serve":
        _serve(float(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 0)
        raise SystemExit(0)
    raise SystemExit(main())
