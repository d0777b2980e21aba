"""Every output of the text readers over the packaged labeled texts and a slice of the demo.

Run before and after a change to the vocabulary (word lists, phrase tables, patterns) and compare
the two files: ``python benchmarks/vocabulary_snapshot.py out.jsonl`` then ``cmp`` or ``diff``.
It records, per labeled text (and its thread parent): the rules scorer's full assessment, the
enrichment's urgency, category, sentiment and entities, the routine shape and the impact figures;
for the demo: the enriched ``messages`` frame and the rules' ``score_frame`` of it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

DATA = Path(__file__).resolve().parents[1] / "digest_pipeline" / "defs" / "risk" / "data"


def _labeled_rows() -> list[dict[str, Any]]:
    rows = []
    for path in sorted(DATA.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                row["_file"] = path.name
                rows.append(row)
    return rows


def _text_outputs(text: str) -> dict[str, Any]:
    from digest_pipeline.defs.digest.impact import read_impact
    from digest_pipeline.defs.enrichment.classify import category, urgency
    from digest_pipeline.defs.enrichment.entities import extract_entities
    from digest_pipeline.defs.enrichment.sentiment import sentiment_score
    from digest_pipeline.defs.enrichment.shape import routine_shape

    shape = routine_shape(text)
    return {
        "urgency": urgency(text),
        "category": category(text),
        "sentiment": sentiment_score(text),
        "entities": extract_entities(text),
        "shape": dataclasses.asdict(shape) if shape else None,
        "impact": dataclasses.asdict(read_impact(text)),
    }


def _demo_frames(total: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    from digest_pipeline.defs.enrichment.enrich import enrich_messages
    from digest_pipeline.defs.risk.rules import score_frame
    from digest_pipeline.defs.slack.ts import ts_to_datetime
    from digest_pipeline.demo.labels import directory_frames
    from digest_pipeline.demo.workspace import DemoWorkspace

    now = datetime(2027, 1, 1, tzinfo=UTC)
    ws = DemoWorkspace(scale=1.0, now=now)
    users, channels, url = directory_frames(ws)
    rows: dict[str, list[Any]] = {k: [] for k in ("channel_id", "ts", "thread_ts", "payload")}
    start = datetime(2026, 11, 1, tzinfo=UTC)
    for channel_id, message in ws.iter_messages(start, start + timedelta(days=60)):
        rows["channel_id"].append(channel_id)
        rows["ts"].append(message["ts"])
        rows["thread_ts"].append(message.get("thread_ts"))
        rows["payload"].append(json.dumps(message))
        if len(rows["ts"]) >= total:
            break
    raw = pd.DataFrame(rows)
    raw["timestamp"] = [ts_to_datetime(ts) for ts in raw["ts"]]
    messages = enrich_messages(raw, users, channels, workspace_url=url).frame
    contents = dict(zip(messages["id"], messages["content"], strict=True))
    contexts = [
        contents.get(p) if isinstance(p, str) else None
        for p in messages["parent_id"].where(messages["is_reply"]).tolist()
    ]
    risk = score_frame(
        pd.DataFrame(
            {
                "id": messages["id"],
                "content": messages["content"],
                "channel": messages["channel"],
                "thread_context": contexts,
            }
        )
    )
    return messages, risk


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--demo", type=int, default=20_000, help="demo messages to read")
    args = parser.parse_args()
    from digest_pipeline.defs.risk.rules import score_message

    with args.out.open("w", encoding="utf-8") as out:
        for row in _labeled_rows():
            record: dict[str, Any] = {"file": row["_file"], "id": row.get("id")}
            for role, text in (("text", row.get("text")), ("parent", row.get("thread_context"))):
                if isinstance(text, str):
                    record[role] = _text_outputs(text)
            record["rules"] = score_message(
                row.get("text") or "",
                channel=row.get("channel"),
                thread_context=row.get("thread_context"),
            ).model_dump()
            out.write(json.dumps(record, ensure_ascii=False, sort_keys=True, default=str) + "\n")
        messages, risk = _demo_frames(args.demo)
        for frame in (messages, risk):
            for record in frame.to_dict(orient="records"):
                out.write(
                    json.dumps(record, ensure_ascii=False, sort_keys=True, default=str) + "\n"
                )


if __name__ == "__main__":
    main()
