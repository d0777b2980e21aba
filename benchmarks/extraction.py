"""Extraction cost benchmark: a week of hourly runs, our planner against naive and a lower bound.

    python benchmarks/extraction.py                  # the week, in-process (a few minutes)
    python benchmarks/extraction.py --hours 24       # the first day only
    python benchmarks/extraction.py --http-hours 6   # also 6 runs through WebClient over HTTP

The workspace is the demo workspace (``DemoWorkspace``) at ``--scale`` (1.5: ~24k messages,
~2.9k threads, 9 readable channels a week, late replies up to 10 days after their parent). Every
hourly run sees the workspace as it is five minutes after its hour, as the hourly schedule does.

Strategies, each run over the same hours:

* ``ours`` — the planner (``extract_window``): one history sweep over look-back + window in pages
  of 999, replies only for threads whose ``latest_reply`` reaches the window;
* ``ours@200`` — the same with Slack's recommended page size, to show what the page size buys;
* ``naive`` — history over the window and over the look-back (pages of 200), then one
  ``conversations.replies`` call for every parent with replies in the look-back, every run;
* ``lower bound`` — for ANY polling design: each run must read every history item (top-level
  message or broadcast) of ``[start - lookback, end)`` — any of them may have gained a reply in the
  window, and history is the only method that reports ``latest_reply`` for many threads at once, at
  most 999 a call — plus one ``conversations.replies`` call per thread with a reply in the window
  (replies are served one thread per call). Computed from the workspace's ground truth.

Every run of ``ours`` and ``naive`` is compared with the ground truth: nothing missing, nothing
duplicated. ``Tier 3 floor`` is calls x 1.2 s (Slack's ~50 calls a minute per method).
"""

import argparse
import math
import os
import platform
import statistics
import sys
import time
from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from digest_pipeline.defs.slack.extract import (
    ChannelSelection,
    Window,
    extract_window,
    list_channels,
    paginate,
)
from digest_pipeline.defs.slack.models import ApiStats, SlackApi
from digest_pipeline.demo.workspace import DemoWorkspace

WEEK_START = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday
LOOKBACK = timedelta(days=14)
SCHEDULE_DELAY = timedelta(minutes=5)
MAX_PAGE = 999
TIER3_SECONDS = 1.2


@dataclass
class Totals:
    calls: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    per_run: list[int] = field(default_factory=list)
    missing: int = 0
    duplicates: int = 0
    messages: int = 0

    @property
    def total(self) -> int:
        return sum(self.calls.values())


def _us(ts: str) -> int:
    return int(Decimal(ts) * 1_000_000)


def _is_history_item(message: dict[str, Any]) -> bool:
    thread_ts = message.get("thread_ts")
    return (
        thread_ts is None
        or thread_ts == message["ts"]
        or message.get("subtype") == ("thread_broadcast")
    )


class Truth:
    """Every message of the selected channels, indexed for per-window counts."""

    def __init__(self, ws: DemoWorkspace, channels: list[str], start: datetime, end: datetime):
        self.history: dict[str, list[int]] = defaultdict(list)
        self.replies: dict[str, list[tuple[int, str]]] = defaultdict(list)
        self.keys: dict[str, list[tuple[int, str]]] = defaultdict(list)
        wanted = set(channels)
        for channel, message in ws.iter_messages(start, end):
            if channel not in wanted:
                continue
            us = _us(message["ts"])
            self.keys[channel].append((us, message["ts"]))
            if _is_history_item(message):
                self.history[channel].append(us)
            if message.get("thread_ts") not in (None, message["ts"]):
                self.replies[channel].append((us, message["thread_ts"]))
        for table in (self.history, self.replies, self.keys):
            for values in table.values():
                values.sort()
        self.channels = channels

    def window_keys(self, window: Window) -> set[tuple[str, str]]:
        lo, hi = _us(window.oldest), _us(window.latest)
        found: set[tuple[str, str]] = set()
        for channel, keys in self.keys.items():
            i = bisect_left(keys, (lo, ""))
            while i < len(keys) and keys[i][0] < hi:
                found.add((channel, keys[i][1]))
                i += 1
        return found

    def lower_bound(self, window: Window, lookback: timedelta, page: int = MAX_PAGE) -> Counter:
        lo, hi = _us(window.oldest), _us(window.latest)
        back = _us(Window(window.start - lookback, window.end).oldest)
        calls: Counter[str] = Counter()
        for channel in self.channels:
            items = self.history.get(channel, [])
            scanned = bisect_left(items, hi) - bisect_left(items, back)
            calls["conversations.history"] += max(1, math.ceil(scanned / page))
            replies = self.replies.get(channel, [])
            per_thread = Counter(
                thread for us, thread in replies[bisect_left(replies, (lo, "")) :] if us < hi
            )
            # The parent comes first on every replies page, so a page holds page - 1 replies.
            calls["conversations.replies"] += sum(
                math.ceil(n / (page - 1)) for n in per_thread.values()
            )
        return calls


def naive_extract(
    api: SlackApi, channels: list[str], window: Window, lookback: timedelta, page: int = 200
) -> list[tuple[str, str]]:
    """The common connector: window history, then every thread of the look-back re-crawled."""
    found: dict[tuple[str, str], None] = {}
    for channel in channels:
        params = {"channel": channel, "inclusive": "true", "limit": page}
        parents: list[str] = []
        scan = Window(window.start - lookback, window.end)
        for part in (window, Window(scan.start, window.start)):
            bounds = {"oldest": part.oldest, "latest": part.latest}
            for m in paginate(api, "conversations.history", {**params, **bounds}, "messages"):
                if part is window and window.contains(m["ts"]):
                    found[(channel, m["ts"])] = None
                if m.get("thread_ts") == m["ts"] and m.get("reply_count"):
                    parents.append(m["ts"])
        for parent in parents:
            thread = {**params, "ts": parent, "oldest": window.oldest, "latest": window.latest}
            for m in paginate(api, "conversations.replies", thread, "messages"):
                if m["ts"] != parent and window.contains(m["ts"]):
                    found[(channel, m["ts"])] = None
    return list(found)


def ours(page: int) -> Callable[[SlackApi, list[str], Window, timedelta], list[tuple[str, str]]]:
    def run(
        api: SlackApi, channels: list[str], window: Window, lookback: timedelta
    ) -> list[tuple[str, str]]:
        result = extract_window(api, channels, window, lookback=lookback, page_limit=page)
        return [(m.channel_id, m.ts) for m in result.messages]

    return run


def hours(first: datetime, count: int) -> Iterator[Window]:
    for i in range(count):
        yield Window(first + timedelta(hours=i), first + timedelta(hours=i + 1))


def measure(
    strategy: Callable[[SlackApi, list[str], Window, timedelta], list[tuple[str, str]]],
    api_for: Callable[[datetime], SlackApi],
    windows: list[Window],
    truth: Truth,
    lookback: timedelta,
) -> Totals:
    totals = Totals()
    for window in windows:
        api = api_for(window.end + SCHEDULE_DELAY)
        began = time.perf_counter()
        keys = strategy(api, truth.channels, window, lookback)
        totals.seconds += time.perf_counter() - began
        expected = truth.window_keys(window)
        totals.missing += len(expected - set(keys))
        totals.duplicates += len(keys) - len(set(keys))
        totals.messages += len(keys)
        totals.calls.update(api.stats.calls)
        totals.per_run.append(sum(api.stats.calls.values()))
    return totals


def warm_up(ws: DemoWorkspace, channels: list[str], span: Window) -> None:
    """Generate the simulated workspace's content once, so no strategy pays for it."""
    ws.now = span.end + timedelta(days=30)
    for channel in channels:
        params = {"channel": channel, "oldest": span.oldest, "latest": span.latest, "limit": 999}
        for _ in paginate(ws, "conversations.history", params, "messages"):
            pass


def in_process(ws: DemoWorkspace) -> Callable[[datetime], SlackApi]:
    def api_for(now: datetime) -> SlackApi:
        ws.now = now
        ws.stats = ApiStats()
        return ws

    return api_for


def over_http(ws: DemoWorkspace, server: Any) -> Callable[[datetime], SlackApi]:
    from digest_pipeline.defs.slack.api import WebApi

    def api_for(now: datetime) -> SlackApi:
        ws.now = now
        # The planner's pacing is off here: the floor at Tier 3 is reported separately.
        return WebApi("xoxb-bench", server.base_url, max_retries=2)

    return api_for


def row(name: str, t: Totals | Counter, runs: int, bound: int, naive: int | None) -> str:
    calls = t.calls if isinstance(t, Totals) else t
    total = sum(calls.values())
    hist, repl = calls["conversations.history"], calls["conversations.replies"]
    per_run = f"{total / runs:8.1f}"
    floor_min = total * TIER3_SECONDS / runs / 60
    wall = f"{t.seconds:8.1f}" if isinstance(t, Totals) else "       -"
    vs_naive = f"{naive / total:7.1f}x" if naive else "       -"
    return (
        f"| {name:<12} | {hist:>9,} | {repl:>9,} | {total:>9,} | {per_run} | {floor_min:6.1f} "
        f"| {wall} | {total / bound:5.2f}x | {vs_naive} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--hours", type=int, default=24 * 7)
    parser.add_argument(
        "--http-hours",
        type=int,
        default=0,
        help="also run ours and naive through the real WebClient over the fake HTTP server, "
        "for this many of the hours",
    )
    parser.add_argument("--skip-naive", action="store_true")
    args = parser.parse_args()

    end = WEEK_START + timedelta(hours=args.hours)
    setup = time.perf_counter()
    ws = DemoWorkspace(seed=args.seed, scale=args.scale, now=end + timedelta(days=30))
    selection = ChannelSelection()
    channels = [c["id"] for c in list_channels(ws) if selection.skip_reason(c) is None]
    truth = Truth(ws, channels, WEEK_START - LOOKBACK, end)
    windows = list(hours(WEEK_START, args.hours))
    week = truth.window_keys(Window(WEEK_START, end))
    first_us = _us(Window(WEEK_START, end).oldest)
    in_week = [
        (c, us, t) for c, items in truth.replies.items() for us, t in items if us >= first_us
    ]
    threads = len({(c, t) for c, _, t in in_week})
    late = sum(1 for _, us, t in in_week if us - _us(t) > 86_400_000_000)
    print(
        f"workspace: seed {args.seed}, scale {args.scale}, {len(channels)} channels, "
        f"{len(week):,} messages, {threads:,} threads with replies, "
        f"{late} replies more than a day after their parent; "
        f"{args.hours} hourly runs from {WEEK_START:%Y-%m-%d}, look-back {LOOKBACK.days} days"
    )
    print(f"ground truth in {time.perf_counter() - setup:.1f} s")
    load = os.getloadavg()
    print(
        f"host: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, load "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, Python {platform.python_version()}"
    )

    warm_up(ws, channels, Window(WEEK_START - LOOKBACK, end))
    bound: Counter[str] = Counter()
    for window in windows:
        bound.update(truth.lower_bound(window, LOOKBACK))
    results: dict[str, Totals] = {}
    results["ours"] = measure(ours(MAX_PAGE), in_process(ws), windows, truth, LOOKBACK)
    results["ours@200"] = measure(ours(200), in_process(ws), windows, truth, LOOKBACK)
    if not args.skip_naive:
        results["naive"] = measure(naive_extract, in_process(ws), windows, truth, LOOKBACK)
    if args.http_hours:
        from digest_pipeline_tests.fakes.slack_server import FakeSlackServer

        few = windows[: args.http_hours]
        with FakeSlackServer(ws, token="xoxb-bench") as server:
            http = {
                "ours": measure(ours(MAX_PAGE), over_http(ws, server), few, truth, LOOKBACK),
                "naive": measure(naive_extract, over_http(ws, server), few, truth, LOOKBACK),
            }

    runs = len(windows)
    naive_total = results["naive"].total if "naive" in results else None
    lb_total = sum(bound.values())
    print()
    print(
        "| strategy     |   history |   replies |     calls | per run | Tier 3 floor, min/run "
        "| wall s | vs bound | fewer than naive |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, t in results.items():
        print(row(name, t, runs, lb_total, naive_total))
    print(row("lower bound", bound, runs, lb_total, naive_total))
    print()
    for name, t in results.items():
        spread = f"{min(t.per_run)}/{statistics.median(t.per_run):.0f}/{max(t.per_run)}"
        print(
            f"{name}: {t.messages:,} messages, missing {t.missing}, duplicated {t.duplicates}; "
            f"calls per run min/median/max {spread}"
        )

    if args.http_hours:
        print()
        print(f"through slack_sdk.WebClient over HTTP on 127.0.0.1, {len(few)} hourly runs:")
        for name, t in http.items():
            print(
                f"  {name}: {t.total:,} calls, {t.seconds:.1f} s wall "
                f"({t.seconds / len(few):.2f} s per run), missing {t.missing}, "
                f"duplicated {t.duplicates}"
            )

    # The daily reconcile: one run per day over its 24 hours (a single-run backfill).
    days = [Window(w.start, w.start + timedelta(days=1)) for w in windows[::24]]
    daily = measure(ours(MAX_PAGE), in_process(ws), days, truth, LOOKBACK)
    print(
        f"daily reconcile ({len(days)} runs): {dict(daily.calls)}, "
        f"missing {daily.missing}, duplicated {daily.duplicates}"
    )

    # The strict tier (15 items a page, one call a minute): a day of hourly runs is enough to see.
    day = windows[:24]
    for lookback_days in (14, 2):
        lookback = timedelta(days=lookback_days)
        strict = measure(ours(15), in_process(ws), day, truth, lookback)
        strict_bound: Counter[str] = Counter()
        for window in day:
            strict_bound.update(truth.lower_bound(window, lookback, page=15))
        per_run = {m: n / len(day) for m, n in strict.calls.items()}
        print(
            f"strict tier, look-back {lookback_days} d: per hourly run "
            f"{per_run.get('conversations.history', 0):.0f} history + "
            f"{per_run.get('conversations.replies', 0):.0f} replies calls, so at least "
            f"{max(per_run.values()):.0f} min at one call a minute per method "
            f"(lower bound {sum(strict_bound.values()) / len(day):.0f} calls); "
            f"missing {strict.missing}, duplicated {strict.duplicates}"
        )


if __name__ == "__main__":
    main()
