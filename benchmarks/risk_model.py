"""The risk model's costs: training (with its out-of-source cross-validation), loading, scoring.

    python benchmarks/risk_model.py                  # packaged labels and 10k labels, 3 repeats
    python benchmarks/risk_model.py --rows 20000 --repeat 5

* **train**: ``train_risk_model`` on the packaged labels, and on ``--rows`` labels made by
  repeating the packaged ones with a distinct token appended (so every text is unique), dealt
  into 20 sources. The time includes the cross-validation that produces the card's figures.
* **load**: ``load_model`` of the saved skops file (a fresh process would pay this once).
* **score**: ``RiskModel.predict`` on unique texts (no repeated text to save work), in messages/s.

Prints min / median / max over ``--repeat`` runs, with the machine it ran on.
"""

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any


def _spread(values: list[float]) -> dict[str, float]:
    return {
        "min": round(min(values), 3),
        "median": round(statistics.median(values), 3),
        "max": round(max(values), 3),
    }


def _grown(rows: list[Any], total: int) -> list[Any]:
    out = []
    for i in range(total):
        row = rows[i % len(rows)]
        out.append(
            replace(
                row, text=f"{row.text} #{i // len(rows)}", id=f"{row.id}-{i}", source=f"s{i % 20}"
            )
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000, help="size of the grown label set")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--score-messages", type=int, default=50_000)
    args = parser.parse_args(argv)

    from digest_pipeline.defs.risk.labels import load_packaged
    from digest_pipeline.defs.risk.model import load_model, save_model
    from digest_pipeline.defs.risk.training import train_risk_model

    packaged = list(load_packaged().rows)
    grown = _grown(packaged, args.rows)
    results: dict[str, Any] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        "packaged_rows": len(packaged),
        "grown_rows": len(grown),
    }
    timings: dict[str, list[float]] = {"train_packaged_s": [], "train_grown_s": [], "load_s": []}
    model = None
    for _ in range(args.repeat):
        began = time.perf_counter()
        model = train_risk_model(packaged)
        timings["train_packaged_s"].append(time.perf_counter() - began)
        began = time.perf_counter()
        train_risk_model(grown)
        timings["train_grown_s"].append(time.perf_counter() - began)
    assert model is not None
    with tempfile.TemporaryDirectory() as folder:
        path = save_model(model, Path(folder) / f"{model.version}.skops")
        results["model_file_mib"] = round(path.stat().st_size / 2**20, 2)
        for _ in range(args.repeat):
            began = time.perf_counter()
            load_model(path)
            timings["load_s"].append(time.perf_counter() - began)
    texts = [f"{packaged[i % len(packaged)].text} #{i}" for i in range(args.score_messages)]
    rates = []
    for _ in range(args.repeat):
        began = time.perf_counter()
        model.predict(texts)
        rates.append(len(texts) / (time.perf_counter() - began))
    results.update({name: _spread(values) for name, values in timings.items()})
    results["score_unique_msg_per_s"] = {k: round(v) for k, v in _spread(rates).items()}
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
