"""Cleaning + enrichment + risk scoring (rules + the learned model) of 1M demo messages in one
process, vs a naive version.

    python benchmarks/enrichment.py                      # 1M messages, the pipeline's code
    python benchmarks/enrichment.py --messages 200000 --repeat 3
    python benchmarks/enrichment.py --naive-sample 20000 # also time the naive per-row version
    python benchmarks/enrichment.py --profile            # cProfile of the timed section

The demo workspace (``DemoWorkspace(scale=…).iter_messages``) produces Slack-shaped payloads for
consecutive days. They are generated in chunks of a few hours, and each chunk is turned into a
``raw_messages``-shaped frame (JSON payload strings, as the warehouse stores them) *outside* the
timed section; the timed section is exactly what the ``messages`` and ``risk_assessments`` assets
do to a partition: :func:`enrich_messages`, thread contexts, the rules (:func:`score_frame`) and
the risk model (:func:`model_assessments`; trained or loaded before the clock starts). Chunks bound
the memory (the assets see one hour at a time too); peak RSS is for the whole process.

The naive baseline (in this file only) is what the code would look like written row by row:
``DataFrame.apply`` per row, a regex per keyword for urgency, category and risk, VADER's
``polarity_scores`` per message. It runs on a sample and is reported in messages/s.
"""

import argparse
import cProfile
import gc
import json
import os
import platform
import pstats
import re
import resource
import statistics
import sys
import time
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

FIRST_DAY = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday
CHUNK = timedelta(hours=4)
SCALE = 50.0  # ~150k messages on a weekday


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def raw_chunks(total: int, scale: float) -> Iterator[tuple[pd.DataFrame, float]]:
    """``raw_messages``-shaped frames of consecutive windows until ``total`` rows, with the
    seconds each took to generate."""
    from digest_pipeline.defs.slack.ts import ts_to_datetime
    from digest_pipeline.demo.workspace import DemoWorkspace

    ws = DemoWorkspace(scale=scale, now=datetime(2027, 1, 1, tzinfo=UTC))
    start, produced = FIRST_DAY, 0
    while produced < total:
        began = time.perf_counter()
        rows: dict[str, list[Any]] = {k: [] for k in ("channel_id", "ts", "thread_ts", "payload")}
        for channel_id, message in ws.iter_messages(start, start + CHUNK):
            rows["channel_id"].append(channel_id)
            rows["ts"].append(message["ts"])
            rows["thread_ts"].append(message.get("thread_ts"))
            rows["payload"].append(json.dumps(message))
            if produced + len(rows["ts"]) >= total:
                break
        frame = pd.DataFrame(rows)
        frame["timestamp"] = [ts_to_datetime(ts) for ts in frame["ts"]]
        produced += len(frame)
        start += CHUNK
        yield frame, time.perf_counter() - began


def directory(scale: float) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    from digest_pipeline.demo.labels import directory_frames
    from digest_pipeline.demo.workspace import DemoWorkspace

    return directory_frames(DemoWorkspace(scale=scale, now=datetime(2027, 1, 1, tzinfo=UTC)))


# ---------------------------------------------------------------------------------------------
# The pipeline's code path (what the two assets do with a partition).


def pipeline_chunk(
    raw: pd.DataFrame,
    users: pd.DataFrame,
    channels: pd.DataFrame,
    url: str,
    parents: dict[str, str],
    phases: dict[str, float],
    model: Any,
) -> tuple[int, dict[str, int]]:
    from digest_pipeline.defs.enrichment.enrich import enrich_messages
    from digest_pipeline.defs.risk.rules import score_frame
    from digest_pipeline.defs.risk.scoring import model_assessments

    began, began_cpu = time.perf_counter(), time.process_time()
    messages = enrich_messages(raw, users, channels, workspace_url=url).frame
    enriched, enriched_cpu = time.perf_counter(), time.process_time()
    # Thread contexts as the risk asset computes them, with earlier chunks standing in for the
    # warehouse: parents of this chunk plus the ones remembered from before.
    ids, contents = messages["id"].tolist(), messages["content"].tolist()
    is_parent = (messages["reply_count"] > 0).tolist()
    parents.update((i, c) for i, c, p in zip(ids, contents, is_parent, strict=True) if p)
    contexts = [
        parents.get(p) if isinstance(p, str) else None
        for p in messages["parent_id"].where(messages["is_reply"]).tolist()
    ]
    risk = score_frame(
        pd.DataFrame(
            {
                "id": ids,
                "content": contents,
                "channel": messages["channel"],
                "thread_context": contexts,
            }
        )
    )
    ruled, ruled_cpu = time.perf_counter(), time.process_time()
    risk, _ = model_assessments(
        risk, contents, contexts, model, channels=messages["channel"].tolist()
    )
    done, done_cpu = time.perf_counter(), time.process_time()
    for name, seconds in (
        ("enrich_s", enriched - began),
        ("rules_s", ruled - enriched),
        ("model_s", done - ruled),
        ("score_s", done - enriched),
        ("enrich_cpu_s", enriched_cpu - began_cpu),
        ("rules_cpu_s", ruled_cpu - enriched_cpu),
        ("model_cpu_s", done_cpu - ruled_cpu),
    ):
        phases[name] = phases.get(name, 0.0) + seconds
    return len(messages), risk["risk_level"].value_counts().to_dict()


def run_pipeline(total: int, scale: float, profile: bool) -> dict[str, Any]:
    users, channels, url = directory(scale)
    # Imports (dagster, pandas, the scorers) and the analyzer's vocabulary are one-off costs of
    # the process, not of the messages: pay them before the clock starts.
    import tempfile

    from digest_pipeline.defs.enrichment.analyzer import default_analyzer
    from digest_pipeline.defs.risk import rules  # noqa: F401
    from digest_pipeline.defs.risk.store import RiskModelStore

    default_analyzer()
    model_dir = os.environ.get("DIGEST_MODEL_DIR") or tempfile.mkdtemp(prefix="bench-models-")
    model = RiskModelStore(model_dir=model_dir).current()
    parents: dict[str, str] = {}
    generated = processed = raw_rows = 0
    gen_seconds = work_seconds = cpu_seconds = 0.0
    levels: dict[str, int] = {}
    phases: dict[str, float] = {}
    profiler = cProfile.Profile() if profile else None
    for raw, seconds in raw_chunks(total, scale):
        gen_seconds += seconds
        raw_rows += len(raw)
        if profiler:
            profiler.enable()
        began, began_cpu = time.perf_counter(), time.process_time()
        kept, by_level = pipeline_chunk(raw, users, channels, url, parents, phases, model)
        work_seconds += time.perf_counter() - began
        cpu_seconds += time.process_time() - began_cpu
        if profiler:
            profiler.disable()
        processed += kept
        for level, count in by_level.items():
            levels[level] = levels.get(level, 0) + int(count)
        generated += len(raw)
        del raw
    if profiler:
        stats = pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative")
        stats.print_stats(35)
        stats.sort_stats("tottime").print_stats(25)
    return {
        "raw_messages": raw_rows,
        "messages": processed,
        "generate_s": round(gen_seconds, 2),
        "enrich_score_s": round(work_seconds, 2),
        "msg_per_s": round(raw_rows / work_seconds) if work_seconds else 0,
        "cpu_s": round(cpu_seconds, 2),
        "msg_per_cpu_s": round(raw_rows / cpu_seconds) if cpu_seconds else 0,
        "enrich_msg_per_s": round(raw_rows / phases["enrich_s"]),
        "score_msg_per_s": round(processed / phases["score_s"]),
        "rules_msg_per_s": round(processed / phases["rules_s"]),
        "model_msg_per_s": round(processed / phases["model_s"]),
        # CPU-seconds of each phase: steadier than wall time on a shared machine.
        "phase_cpu_s": {
            name: round(phases[f"{name}_cpu_s"], 2) for name in ("enrich", "rules", "model")
        },
        "model_version": model.version,
        "msg_per_s_incl_generation": round(raw_rows / (work_seconds + gen_seconds)),
        "peak_rss_mib": round(_peak_mib()),
        "risk_levels": levels,
    }


# ---------------------------------------------------------------------------------------------
# The naive baseline: row by row, a regex per keyword, VADER per message.

_NAIVE_URGENCY = {
    "critical": ["line down", "stop ship", "recall", "safety", "fire", "swelling", "critical"],
    "high": ["urgent", "asap", "blocker", "shortage", "allocation", "eol", "failed", "slip"],
    "medium": ["delay", "risk", "concern", "issue", "late", "yield", "expedite"],
}
_NAIVE_CATEGORY = {
    "supply_chain": ["shortage", "allocation", "lead time", "eol", "supplier", "ltb", "pcn"],
    "manufacturing_quality": ["yield", "defect", "line", "rework", "scrap", "fpy", "cpk"],
    "certification_compliance": ["fcc", "ce", "ul", "emc", "certification", "lab", "pre-scan"],
    "schedule_launch": ["launch", "evt", "dvt", "pvt", "schedule", "slip", "milestone"],
    "customer_commercial": ["customer", "deal", "churn", "escalation", "price", "renewal"],
    "logistics": ["customs", "shipment", "freight", "container", "port", "carrier"],
    "engineering_design": ["firmware", "schematic", "layout", "bug", "thermal", "design"],
    "financial": ["budget", "cost", "margin", "tariff", "invoice", "$"],
}
_NAIVE_RISK = [
    ("critical", ["line down", "stop ship", "recall", "swelling", "fire at", "sole source"]),
    ("high", ["shortage", "allocation", "end of life", "eol", "failed", "slip", "52 weeks"]),
    ("medium", ["delay", "risk", "concern", "late", "yield", "expedite", "hold"]),
]


def _naive_clean(text: str, users: dict[str, str], channels: dict[str, str]) -> str:
    text = re.sub(r"<@(U\w+)>", lambda m: "@" + users.get(m.group(1), m.group(1)), text)
    text = re.sub(
        r"<#(C\w+)\|([^>]*)>", lambda m: "#" + (m.group(2) or channels.get(m.group(1), "")), text
    )
    text = re.sub(r"<!(here|channel|everyone)>", r"@\1", text)
    text = re.sub(r"<(https?://[^|>]+)\|([^>]+)>", r"\2 (\1)", text)
    text = re.sub(r"<(https?://[^>]+)>", r"\1", text)
    return text.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")


def _naive_row(
    row: pd.Series, users: dict[str, str], channels: dict[str, str], vader: Any
) -> pd.Series:
    msg = json.loads(row["payload"])
    text = _naive_clean(msg.get("text") or "", users, channels)
    low = text.lower()
    urgency = "low"
    for level in ("critical", "high", "medium"):
        if any(re.search(r"\b" + re.escape(k) + r"\b", low) for k in _NAIVE_URGENCY[level]):
            urgency = level
            break
    scores = {
        name: sum(1 for k in words if re.search(r"\b" + re.escape(k) + r"\b", low))
        for name, words in _NAIVE_CATEGORY.items()
    }
    best = max(scores, key=lambda k: scores[k])
    category = best if scores[best] else "none"
    risk = "low"
    for level, words in _NAIVE_RISK:
        if any(re.search(r"\b" + re.escape(k) + r"\b", low) for k in words):
            risk = level
            break
    return pd.Series(
        {
            "id": f"{row['channel_id']}:{row['ts']}",
            "content": text,
            "urgency": urgency,
            "category": category,
            "sentiment_score": vader.polarity_scores(text)["compound"],
            "mentions": re.findall(r"<@(U\w+)>", msg.get("text") or ""),
            "risk_level": risk,
        }
    )


def run_naive(sample: int, scale: float) -> dict[str, Any]:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    users, channels, _ = directory(scale)
    names = dict(zip(users["user_id"], users["display_name"].fillna(users["name"]), strict=True))
    chans = dict(zip(channels["channel_id"], channels["name"], strict=True))
    vader = SentimentIntensityAnalyzer()
    frames = []
    for raw, _ in raw_chunks(sample, scale):
        frames.append(raw)
    raw = pd.concat(frames, ignore_index=True)
    began = time.perf_counter()
    out = raw.apply(_naive_row, axis=1, args=(names, chans, vader))
    seconds = time.perf_counter() - began
    return {
        "raw_messages": len(raw),
        "seconds": round(seconds, 2),
        "msg_per_s": round(len(out) / seconds),
    }


def demo_truth(days: int, scale: float) -> dict[str, Any]:
    """The rules scorer on the demo's top-level messages vs the scenario each was drawn from
    (``DemoWorkspace.scenario_of`` → ``content.scenario_level``; routine chatter is low)."""
    from digest_pipeline.defs.enrichment.enrich import enrich_messages
    from digest_pipeline.defs.risk.rules import score_frame
    from digest_pipeline.demo.content import scenario_level
    from digest_pipeline.demo.labels import directory_frames, top_level_raw
    from digest_pipeline.demo.workspace import DemoWorkspace

    ws = DemoWorkspace(scale=scale, now=datetime(2027, 1, 1, tzinfo=UTC))
    users, channels, url = directory_frames(ws)
    raw = top_level_raw(ws, FIRST_DAY, FIRST_DAY + timedelta(days=days))
    messages = enrich_messages(raw, users, channels, workspace_url=url).frame
    scored = score_frame(messages[["id", "content", "channel"]].assign(thread_context=None))
    pairs = zip(messages["channel_id"], messages["ts"], strict=True)
    scenarios = [ws.scenario_of(c, t) for c, t in pairs]
    gold = [scenario_level(s) or "low" for s in scenarios]
    predicted = scored["risk_level"].tolist()
    levels = ("low", "medium", "high", "critical")
    confusion = {g: {p: 0 for p in levels} for g in levels}
    misses: dict[str, int] = {}
    for g, p, s in zip(gold, predicted, scenarios, strict=True):
        confusion[g][p] += 1
        if g != p:
            key = f"{s or 'routine'}: {g} -> {p}"
            misses[key] = misses.get(key, 0) + 1
    risky = {"high", "critical"}
    hc_gold = sum(g in risky for g in gold)
    hc_pred = sum(p in risky for p in predicted)
    hc_both = sum(g in risky and p in risky for g, p in zip(gold, predicted, strict=True))
    return {
        "messages": len(gold),
        "accuracy": round(sum(g == p for g, p in zip(gold, predicted, strict=True)) / len(gold), 3),
        "high_critical_recall": round(hc_both / hc_gold, 3) if hc_gold else None,
        "high_critical_precision": round(hc_both / hc_pred, 3) if hc_pred else None,
        "high_critical_support": hc_gold,
        "confusion": confusion,
        "top_disagreements": dict(sorted(misses.items(), key=lambda kv: -kv[1])[:12]),
    }


# ---------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    warnings.filterwarnings("ignore")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--scale", type=float, default=SCALE)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--naive-sample", type=int, default=0, metavar="N")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--demo-truth", type=int, default=0, metavar="DAYS", help="score vs the demo ground truth"
    )
    args = parser.parse_args(argv)

    print(
        f"# {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cpus, "
        f"load {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}"
    )
    if args.demo_truth:
        print(json.dumps(demo_truth(args.demo_truth, 3.0), indent=2))
        return 0
    results = []
    for i in range(args.repeat):
        gc.collect()
        result = run_pipeline(args.messages, args.scale, args.profile and i == 0)
        result["load_1m"] = round(os.getloadavg()[0], 2)
        results.append(result)
        print(
            json.dumps(result)
            if args.json
            else f"run {i + 1}: {result['raw_messages']:,} raw -> {result['messages']:,} messages  "
            f"enrich+score {result['enrich_score_s']:.1f} s = {result['msg_per_s']:,} msg/s "
            f"[{result['msg_per_cpu_s']:,} msg per CPU-s] "
            f"(enrich {result['enrich_msg_per_s']:,}/s, score {result['score_msg_per_s']:,}/s; "
            f"CPU-s enrich {result['phase_cpu_s']['enrich']}, rules "
            f"{result['phase_cpu_s']['rules']}, model {result['phase_cpu_s']['model']})  "
            f"(generation {result['generate_s']:.1f} s; with it "
            f"{result['msg_per_s_incl_generation']:,} msg/s)  peak RSS "
            f"{result['peak_rss_mib']:,} MiB  load {result['load_1m']}"
        )
    if len(results) > 1:
        for key, label in (("msg_per_s", "msg/s"), ("msg_per_cpu_s", "msg per CPU-s")):
            rates = sorted(r[key] for r in results)
            print(
                f"{label} min {rates[0]:,}  median {statistics.median(rates):,.0f}  "
                f"max {rates[-1]:,}"
            )
    if args.naive_sample:
        naive = run_naive(args.naive_sample, args.scale)
        print(
            json.dumps(naive)
            if args.json
            else f"naive per-row: {naive['raw_messages']:,} messages in {naive['seconds']:.1f} s = "
            f"{naive['msg_per_s']:,} msg/s"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
