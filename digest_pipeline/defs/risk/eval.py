"""Evaluation harness: how well a risk scorer agrees with labeled messages.

``digest-eval [PATH] [--scorer model|rules|llm|auto] [--json] [--min-high-recall 0.8]`` scores a
JSONL or CSV file (default: the project's own labeled set) and prints per-level precision, recall
and F1, the confusion matrix, recall on high+critical, category accuracy on risky rows and
requires_attention precision/recall. One object a line with ``text``, ``channel``,
``thread_context`` (the parent's text or null), ``risk_level``, ``risk_category`` and
``requires_attention``; ``id`` and ``tags`` are used when present, other keys are ignored.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from digest_pipeline.contract.enumerations import LEVELS
from digest_pipeline.defs.risk.labels import (
    DatasetError,
    LabeledMessage,
    load_packaged,
    read_label_file,
)
from digest_pipeline.defs.risk.model import RiskModel
from digest_pipeline.defs.risk.models import RiskAssessment, Scorer
from digest_pipeline.defs.risk.rules import rules_scorer
from digest_pipeline.defs.risk.store import default_model
from digest_pipeline.defs.risk.training import render_card, train_risk_model

PACKAGED_NAME = "labeled.jsonl"
RISKY = frozenset({"high", "critical"})
# The LLM scorer module (written separately) exposes ``build_eval_scorer() -> Scorer``.
LLM_MODULE = "digest_pipeline.defs.risk.llm"
LLM_FACTORY = "build_eval_scorer"


def packaged_dataset() -> Traversable:
    """The project's own labeled set shipped inside the package."""
    return files("digest_pipeline.defs.risk") / "data" / PACKAGED_NAME


def load_labeled(path: str | Path | Traversable | None = None) -> list[LabeledMessage]:
    """Read a labeled JSONL or CSV file (default: the project's own set); the first bad line
    raises :class:`DatasetError` naming the file and line (the CLI reports and exits 2)."""
    source = packaged_dataset() if path is None else path
    found = read_label_file(source)
    if found.problems:
        raise DatasetError(str(found.problems[0]))
    return list(found.rows)


# --------------------------------------------------------------------------------------------
# Metrics


@dataclass(frozen=True)
class LevelMetrics:
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class Miss:
    id: str
    gold: str
    predicted: str
    text: str


@dataclass(frozen=True)
class EvalReport:
    total: int
    per_level: dict[str, LevelMetrics]
    macro_f1: float
    accuracy: float
    # confusion[gold][predicted] = count
    confusion: dict[str, dict[str, int]]
    high_critical_recall: float
    high_critical_support: int
    high_critical_precision: float
    category_accuracy: float
    category_support: int
    attention_precision: float
    attention_recall: float
    attention_support: int
    misses: tuple[Miss, ...] = field(default=())
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["misses"] = [asdict(m) for m in self.misses]
        return data


def _ratio(num: int, den: int) -> float:
    return num / den if den else 0.0


def _f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def evaluate(records: Sequence[LabeledMessage], scorer: Scorer) -> EvalReport:
    """Score every record with ``scorer(text, channel, thread_context)`` and compare."""
    confusion = {gold: dict.fromkeys(LEVELS, 0) for gold in LEVELS}
    category_hits = category_total = 0
    att_tp = att_fp = att_fn = att_total = 0
    hc_hits = hc_total = 0
    misses: list[Miss] = []
    started = time.perf_counter()
    for record in records:
        result = scorer(record.text, record.channel, record.thread_context)
        predicted = result.risk_level
        confusion[record.risk_level][predicted] += 1
        if predicted != record.risk_level:
            misses.append(Miss(record.id, record.risk_level, predicted, record.text))
        if record.risk_level in RISKY:
            hc_total += 1
            hc_hits += predicted in RISKY
        if record.risk_level != "low" and record.risk_category is not None:
            category_total += 1
            category_hits += result.risk_category == record.risk_category
        if record.requires_attention is not None:
            att_total += 1
            if result.requires_attention and record.requires_attention:
                att_tp += 1
            elif result.requires_attention:
                att_fp += 1
            elif record.requires_attention:
                att_fn += 1
    seconds = time.perf_counter() - started
    per_level: dict[str, LevelMetrics] = {}
    for level in LEVELS:
        tp = confusion[level][level]
        predicted_total = sum(confusion[gold][level] for gold in LEVELS)
        support = sum(confusion[level].values())
        precision = _ratio(tp, predicted_total)
        recall = _ratio(tp, support)
        per_level[level] = LevelMetrics(precision, recall, _f1(precision, recall), support)
    total = sum(m.support for m in per_level.values())
    present = [m for m in per_level.values() if m.support]
    return EvalReport(
        total=total,
        per_level=per_level,
        macro_f1=sum(m.f1 for m in present) / len(present) if present else 0.0,
        accuracy=_ratio(sum(confusion[level][level] for level in LEVELS), total),
        confusion=confusion,
        high_critical_recall=_ratio(hc_hits, hc_total),
        high_critical_support=hc_total,
        high_critical_precision=_ratio(
            hc_hits, sum(confusion[gold][p] for gold in LEVELS for p in RISKY)
        ),
        category_accuracy=_ratio(category_hits, category_total),
        category_support=category_total,
        attention_precision=_ratio(att_tp, att_tp + att_fp),
        attention_recall=_ratio(att_tp, att_tp + att_fn),
        attention_support=att_total,
        misses=tuple(misses),
        seconds=seconds,
    )


def render(report: EvalReport, *, title: str = "") -> str:
    """A plain-text table of ``report`` for the terminal."""
    lines = [title] if title else []
    lines.append(f"{'level':<10}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}")
    for level, m in report.per_level.items():
        lines.append(
            f"{level:<10}{m.precision:>10.3f}{m.recall:>10.3f}{m.f1:>10.3f}{m.support:>10}"
        )
    lines.append(f"{'macro f1':<10}{'':>10}{'':>10}{report.macro_f1:>10.3f}{report.total:>10}")
    lines.append("")
    lines.append("confusion (rows: labeled, columns: predicted)")
    lines.append(f"{'':<10}" + "".join(f"{p:>10}" for p in LEVELS))
    for gold in LEVELS:
        row = report.confusion[gold]
        lines.append(f"{gold:<10}" + "".join(f"{row[p]:>10}" for p in LEVELS))
    lines.append("")
    lines.append(f"accuracy                      {report.accuracy:.3f}")
    lines.append(
        f"high+critical recall          {report.high_critical_recall:.3f}"
        f"  (n={report.high_critical_support})"
    )
    lines.append(f"high+critical precision       {report.high_critical_precision:.3f}")
    lines.append(
        f"category accuracy (risky)     {report.category_accuracy:.3f}"
        f"  (n={report.category_support})"
    )
    lines.append(
        f"requires_attention P / R      {report.attention_precision:.3f} / "
        f"{report.attention_recall:.3f}  (n={report.attention_support})"
    )
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Command line


class ScorerUnavailable(RuntimeError):
    """The requested scorer cannot run here."""


def _key(record: LabeledMessage) -> tuple[str, str]:
    return " ".join(record.text.split()).lower(), " ".join(
        (record.thread_context or "").split()
    ).lower()


def out_of_source_model(records: Sequence[LabeledMessage]) -> RiskModel:
    """The risk model trained on the packaged corpora *without* any of ``records``' texts: how it
    would judge a workspace it has never seen."""
    held = {_key(r) for r in records}
    packaged = load_packaged().rows
    rows = [r for r in packaged if _key(r) not in held]
    if len(rows) == len(packaged):  # nothing to hold out: the default model never saw them
        return default_model()
    return train_risk_model(rows)


def model_scorer(model: RiskModel) -> Scorer:
    def score(text: str, channel: str | None, thread_context: str | None) -> RiskAssessment:
        p = model.predict([text], [thread_context])
        return RiskAssessment(
            risk_level=p.levels[0],  # type: ignore[arg-type]
            risk_category=p.categories[0],  # type: ignore[arg-type]
            description="risk model",
            confidence_score=float(p.confidence[0]),
            mitigation_suggestions=[],
            requires_attention=p.attention[0],
        )

    return score


def resolve_scorer(
    choice: str,
    env: dict[str, str] | None = None,
    records: Sequence[LabeledMessage] = (),
) -> tuple[Scorer, str, str]:
    """(scorer, name, note) for ``model``, ``rules``, ``llm`` or ``auto``.

    ``model`` is trained without ``records`` (out of source). Without ``OPENAI_API_KEY``, ``llm``
    and ``auto`` fall back to the model, with a note.
    """
    env = dict(os.environ) if env is None else env
    if choice == "rules":
        return rules_scorer, "rules", ""
    if choice == "model" or not env.get("OPENAI_API_KEY"):
        note = "" if choice == "model" else f"note: --scorer {choice}: OPENAI_API_KEY is not set, "
        return model_scorer(out_of_source_model(records)), "model", note
    try:
        module = importlib.import_module(LLM_MODULE)
        factory = getattr(module, LLM_FACTORY)
    except (ImportError, AttributeError) as e:
        if choice == "auto":
            model = model_scorer(out_of_source_model(records))
            return model, "model", "note: --scorer auto: the LLM scorer is not available, "
        raise ScorerUnavailable(
            f"the LLM scorer is not available yet ({LLM_MODULE}.{LLM_FACTORY} not found)"
        ) from e
    return factory(), "llm", ""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="digest-eval", description="Evaluate a risk scorer on labeled Slack messages."
    )
    parser.add_argument(
        "path", nargs="?", help="labeled JSONL or CSV file (default: the project's own set)"
    )
    parser.add_argument(
        "--scorer",
        choices=("model", "rules", "llm", "auto"),
        default="auto",
        help="model: the risk model trained without PATH's messages; auto: llm with a key",
    )
    parser.add_argument(
        "--cv",
        action="store_true",
        help="train on the packaged corpora and print the per-source cross-validation",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--min-high-recall",
        type=float,
        default=None,
        metavar="R",
        help="exit 1 when recall on high+critical is below R",
    )
    parser.add_argument("--tag", action="append", default=[], help="only rows with this tag")
    parser.add_argument("--exclude-tag", action="append", default=[], help="skip rows with it")
    parser.add_argument("--errors", action="store_true", help="list the misclassified rows")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.cv:
        model = train_risk_model(load_packaged().rows, progress=lambda s: print(s, file=sys.stderr))
        print(f"risk model {model.version}: {model.card['training_rows']} rows")
        print(render_card(model))
        return 0
    try:
        records = load_labeled(args.path)
    except DatasetError as e:
        print(f"digest-eval: {e}", file=sys.stderr)
        return 2
    if args.tag:
        records = [r for r in records if set(args.tag) & set(r.tags)]
    if args.exclude_tag:
        records = [r for r in records if not set(args.exclude_tag) & set(r.tags)]
    if not records:
        print("digest-eval: no labeled rows to evaluate", file=sys.stderr)
        return 2
    try:
        scorer, name, note = resolve_scorer(args.scorer, records=records)
    except ScorerUnavailable as e:
        print(f"digest-eval: {e}", file=sys.stderr)
        return 2
    if note:
        print(note + f"using the {name} scorer", file=sys.stderr)
    report = evaluate(records, scorer)
    source = args.path or "packaged labeled set"
    if args.json:
        data = report.as_dict()
        if not args.errors:
            data.pop("misses")
        print(json.dumps({"source": source, "scorer": name, **data}, indent=2))
    else:
        print(render(report, title=f"{source}: {report.total} rows, scorer={name}\n"))
        if args.errors:
            print("\nmisclassified:")
            for miss in report.misses:
                print(f"  {miss.id:<10}{miss.gold:>9} -> {miss.predicted:<9} {miss.text[:90]}")
    if args.min_high_recall is not None and report.high_critical_recall < args.min_high_recall:
        print(
            f"digest-eval: high+critical recall {report.high_critical_recall:.3f} is below "
            f"{args.min_high_recall:.3f}",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
