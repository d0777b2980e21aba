"""Write the demo workspace's labeled messages (``risk/data/demo.jsonl``) from its ground truth.

    python -m digest_pipeline.demo.labels [--days 14] [--out PATH]

Every top-level message of ``--days`` simulated days is labeled with the level and category of
the scenario it was drawn from (``DemoWorkspace.scenario_of``); routine chatter and harmless bot
posts are low. Replies are left out: a reply's level depends on what it says about its parent,
which the scenario alone does not tell. Texts are cleaned exactly as the pipeline cleans them,
deduplicated, and capped per scenario (routine chatter per channel) so that no single template
dominates the corpus.

The file is data the risk model trains on like any other source (production code never imports
the demo); a test checks it is what this script produces.
"""

import argparse
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

FIRST_DAY = datetime(2026, 2, 2, tzinfo=UTC)  # a Monday, before the demo's default window
PER_SCENARIO = 12
ROUTINE_PER_CHANNEL = 40
SEED = 11
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "defs" / "risk" / "data" / "demo.jsonl"


def directory_frames(ws: Any) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """``slack_users`` and ``slack_channels``-shaped frames of a demo workspace, and its URL."""
    members = ws.call("users.list", {})["members"]
    users = pd.DataFrame(
        {
            "user_id": [m["id"] for m in members],
            "name": [m.get("name") for m in members],
            "display_name": [(m.get("profile") or {}).get("display_name") for m in members],
            "real_name": [
                m.get("real_name") or (m.get("profile") or {}).get("real_name") for m in members
            ],
            "is_bot": [bool(m.get("is_bot")) for m in members],
        }
    )
    listed = ws.call("conversations.list", {"types": "public_channel,private_channel"})
    channels = pd.DataFrame(
        {
            "channel_id": [c["id"] for c in listed["channels"]],
            "name": [c["name"] for c in listed["channels"]],
        }
    )
    return users, channels, ws.call("auth.test", {})["url"]


def top_level_raw(ws: Any, start: datetime, end: datetime) -> pd.DataFrame:
    """``raw_messages``-shaped rows of the top-level messages posted in ``[start, end)``."""
    from digest_pipeline.defs.slack.extract import ts_to_datetime

    return pd.DataFrame(
        [
            {
                "channel_id": cid,
                "ts": m["ts"],
                "thread_ts": m.get("thread_ts"),
                "payload": json.dumps(m),
                "timestamp": ts_to_datetime(m["ts"]),
            }
            for cid, m in ws.iter_messages(start, end)
            if not m.get("thread_ts") or m["thread_ts"] == m["ts"]
        ]
    )


def demo_labels(days: int = 14) -> list[dict[str, Any]]:
    from digest_pipeline.defs.enrichment.enrich import enrich_messages
    from digest_pipeline.demo.content import scenario_category, scenario_level
    from digest_pipeline.demo.workspace import DemoWorkspace

    ws = DemoWorkspace(now=datetime(2027, 1, 1, tzinfo=UTC))
    users, channels, _ = directory_frames(ws)
    raw = top_level_raw(ws, FIRST_DAY, FIRST_DAY + timedelta(days=days))
    messages = enrich_messages(raw, users, channels).frame
    by_scenario: dict[str, dict[str, dict[str, Any]]] = {}
    for cid, ts, channel, text in zip(
        messages["channel_id"],
        messages["ts"],
        messages["channel"],
        messages["content"],
        strict=True,
    ):
        if not isinstance(text, str) or not text.strip():
            continue
        scenario = ws.scenario_of(cid, ts)
        level = scenario_level(scenario) or "low"
        category = scenario_category(scenario) if level != "low" else "none"
        # Routine chatter is capped per channel (every channel's templates appear), scenarios
        # per scenario.
        group = scenario or f"routine:{channel}"
        by_scenario.setdefault(group, {}).setdefault(
            text,
            {
                "text": text,
                "channel": channel,
                "thread_context": None,
                "risk_level": level,
                "risk_category": category,
                "requires_attention": level in ("high", "critical"),
                "tags": [f"scenario:{scenario or 'routine'}"],
            },
        )
    rng = random.Random(SEED)
    rows: list[dict[str, Any]] = []
    for scenario in sorted(by_scenario):
        found = sorted(by_scenario[scenario].values(), key=lambda r: r["text"])
        rng.shuffle(found)
        routine = scenario.startswith("routine:")
        rows += found[: ROUTINE_PER_CHANNEL if routine else PER_SCENARIO]
    rows.sort(key=lambda r: (r["tags"][0], r["text"]))
    return [{"id": f"demo{i:04d}", **row} for i, row in enumerate(rows, start=1)]


def write_jsonl(rows: list[dict[str, Any]], path: Path) -> None:
    path.write_text(
        "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").partition("\n")[0])
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    rows = demo_labels(args.days)
    write_jsonl(rows, args.out)
    levels: dict[str, int] = {}
    for row in rows:
        levels[row["risk_level"]] = levels.get(row["risk_level"], 0) + 1
    print(f"{len(rows)} labeled messages → {args.out}: {levels}")  # noqa: T201
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
