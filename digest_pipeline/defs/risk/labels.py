"""Labeled messages: the packaged corpora, the team's own file, people's verdicts, LLM verdicts.

Every source has the development set's schema (``../shared/risk-dev-set/README.md``): ``text``,
``risk_level`` and, optionally, ``id``, ``channel``, ``thread_context``, ``risk_category``,
``requires_attention``, ``tags``. Files are JSONL or CSV (by suffix). A bad line costs one
:class:`LabelProblem` (named by file and line), never the file: the caller reports the problems.

Files are untrusted input: a file above :data:`MAX_FILE_BYTES` is refused whole (a problem, not a
crash), a text above :data:`MAX_TEXT_CHARS` is a problem for its line, and at most
:data:`MAX_ROWS_PER_SOURCE` rows are read from one source.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from digest_pipeline.contract.enumerations import CATEGORIES, LEVEL_RANK, LEVELS
from digest_pipeline.defs.storage.side_table import SideTable

MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_TEXT_CHARS = 8_000
MAX_ROWS_PER_SOURCE = 200_000
MAX_PROBLEMS_KEPT = 200

# How much one row counts in training: people's labels over the LLM's.
HUMAN_WEIGHT = 1.0
LLM_WEIGHT = 0.3

LABELS_PACKAGE = "digest_pipeline.defs.risk"
LABELS_FOLDER = "data"
# Feedback verdicts that are not a level name.
FEEDBACK_VERDICTS = {**{level: level for level in LEVELS}, "not_a_risk": "low", "not_risk": "low"}
# A person saying the risk is worse than shown: the level it implies is stored with the verdict
# (``risk_level``: one above the line's level when it was given), so a retrained model that
# already scores higher does not push it up again.
MORE_SERIOUS = "more_serious"
# A person saying the thread's problem is over: it moves the thread to the digest's Resolved
# section but says nothing of the message's level, so it is no training label.
RESOLVED = "resolved"

# ``risk_feedback``: one row per (message, person, verdict). The risk model reads it; the digest's
# feedback sensor (reactions) or a person (files) writes it.
FEEDBACK = SideTable.declared("risk_feedback")
FEEDBACK_TABLE = FEEDBACK.name


class DatasetError(ValueError):
    """A labeled row or file that cannot be read: the message names the file and line."""


@dataclass(frozen=True)
class LabeledMessage:
    """One labeled Slack message. ``source`` names the corpus it came from (``part-a``, ``team``,
    ``feedback``, ``llm``...): cross-validation holds out one source at a time."""

    text: str
    risk_level: str
    channel: str | None = None
    thread_context: str | None = None
    risk_category: str | None = None
    requires_attention: bool | None = None
    id: str = ""
    tags: tuple[str, ...] = ()
    source: str = ""
    weight: float = HUMAN_WEIGHT


@dataclass(frozen=True)
class LabelProblem:
    where: str
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


@dataclass(frozen=True)
class LabelSet:
    rows: tuple[LabeledMessage, ...] = ()
    problems: tuple[LabelProblem, ...] = ()
    problem_count: int = 0  # all of them; ``problems`` keeps the first MAX_PROBLEMS_KEPT

    def by_source(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for row in self.rows:
            counts[row.source] = counts.get(row.source, 0) + 1
        return dict(sorted(counts.items()))


@dataclass
class _Collector:
    rows: list[LabeledMessage] = field(default_factory=list)
    problems: list[LabelProblem] = field(default_factory=list)
    count: int = 0

    def problem(self, where: str, reason: str) -> None:
        self.count += 1
        if len(self.problems) < MAX_PROBLEMS_KEPT:
            self.problems.append(LabelProblem(where, reason))

    def result(self) -> LabelSet:
        return LabelSet(tuple(self.rows), tuple(self.problems), self.count)


def _optional_str(obj: Mapping[str, Any], key: str, where: str) -> str | None:
    value = obj.get(key)
    if value is None or isinstance(value, str):
        return value or None
    raise DatasetError(f"{where}: {key!r} must be a string or null, got {type(value).__name__}")


def _optional_bool(value: object, where: str, *, text_cells: bool) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    if text_cells and isinstance(value, str):  # CSV cells are text
        low = value.strip().lower()
        if low in ("", "null", "none"):
            return None
        if low in ("true", "1", "yes"):
            return True
        if low in ("false", "0", "no"):
            return False
    raise DatasetError(f"{where}: 'requires_attention' must be true, false or null")


def parse_record(
    obj: object, where: str, *, source: str = "", text_cells: bool = False
) -> LabeledMessage:
    """One decoded row as a :class:`LabeledMessage`, or a :class:`DatasetError` naming ``where``.
    ``text_cells``: the row is a CSV row, whose booleans and lists arrive as text."""
    if not isinstance(obj, Mapping):
        raise DatasetError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    for key in ("text", "risk_level"):
        if key not in obj:
            raise DatasetError(f"{where}: missing required key {key!r}")
    text = obj["text"]
    if not isinstance(text, str):
        raise DatasetError(f"{where}: 'text' must be a string, got {type(text).__name__}")
    if not text.strip():
        raise DatasetError(f"{where}: 'text' is empty")
    if len(text) > MAX_TEXT_CHARS:
        raise DatasetError(f"{where}: 'text' is longer than {MAX_TEXT_CHARS} characters")
    level = obj["risk_level"]
    if level not in LEVEL_RANK:
        raise DatasetError(
            f"{where}: unknown risk_level {level!r} (expected one of {', '.join(LEVELS)})"
        )
    category = _optional_str(obj, "risk_category", where)
    if category is not None and category not in CATEGORIES:
        raise DatasetError(
            f"{where}: unknown risk_category {category!r} (expected one of {', '.join(CATEGORIES)})"
        )
    context = _optional_str(obj, "thread_context", where)
    if context is not None and len(context) > MAX_TEXT_CHARS:
        raise DatasetError(f"{where}: 'thread_context' is longer than {MAX_TEXT_CHARS} characters")
    tags = obj.get("tags") or []
    if text_cells and isinstance(tags, str):  # CSV: "a;b"
        tags = [t for t in tags.replace(",", ";").split(";") if t.strip()]
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise DatasetError(f"{where}: 'tags' must be a list of strings")
    return LabeledMessage(
        text=text,
        risk_level=level,
        channel=_optional_str(obj, "channel", where),
        thread_context=context,
        risk_category=category,
        requires_attention=_optional_bool(
            obj.get("requires_attention"), where, text_cells=text_cells
        ),
        id=str(obj.get("id") or "")[:200],
        tags=tuple(t.strip() for t in tags),
        source=source,
    )


def _records(content: str, name: str, csv_format: bool) -> Iterator[tuple[str, object]]:
    """(where, decoded row or the DatasetError for it) for each non-blank row."""
    if csv_format:
        reader = csv.DictReader(io.StringIO(content))
        for number, row in enumerate(reader, start=2):
            yield f"{name}:{number}", row
        return
    for number, line in enumerate(content.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{name}:{number}"
        try:
            yield where, json.loads(line)
        except json.JSONDecodeError as e:
            yield where, DatasetError(f"{where}: invalid JSON ({e.msg} at column {e.colno})")


def parse_content(content: str, name: str, *, source: str, csv_format: bool = False) -> LabelSet:
    """Rows of one file's text; every bad row is one named problem."""
    found = _Collector()
    for where, obj in _records(content, name, csv_format):
        if isinstance(obj, DatasetError):
            found.problem(where, str(obj).removeprefix(f"{where}: "))
            continue
        if len(found.rows) >= MAX_ROWS_PER_SOURCE:
            found.problem(where, f"more than {MAX_ROWS_PER_SOURCE} rows: the rest is not read")
            break
        try:
            record = parse_record(obj, where, source=source, text_cells=csv_format)
        except DatasetError as e:
            found.problem(where, str(e).removeprefix(f"{where}: "))
            continue
        if not record.id:
            record = replace(record, id=f"{source}:{where.rsplit(':', 1)[1]}")
        found.rows.append(record)
    return found.result()


def read_label_file(path: str | Path | Traversable, *, source: str | None = None) -> LabelSet:
    """A JSONL or CSV label file. A file that cannot be read at all is one problem."""
    name = str(path)
    source = source or Path(name).stem
    try:
        raw = path.read_bytes() if not isinstance(path, str) else Path(path).read_bytes()
    except FileNotFoundError:
        return LabelSet(problems=(LabelProblem(name, "no such file"),), problem_count=1)
    except OSError as e:
        return LabelSet(
            problems=(LabelProblem(name, f"cannot read ({e.strerror})"),), problem_count=1
        )
    if len(raw) > MAX_FILE_BYTES:
        reason = f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB: not read"
        return LabelSet(problems=(LabelProblem(name, reason),), problem_count=1)
    try:
        content = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        return LabelSet(
            problems=(LabelProblem(name, f"not UTF-8 text ({e.reason})"),), problem_count=1
        )
    return parse_content(content, name, source=source, csv_format=name.lower().endswith(".csv"))


def packaged_label_files() -> list[Traversable]:
    """The labeled corpora shipped in the package (``risk/data/*.jsonl``), sorted by name."""
    folder = files(LABELS_PACKAGE) / LABELS_FOLDER
    return sorted((f for f in folder.iterdir() if f.name.endswith(".jsonl")), key=lambda f: f.name)


def load_packaged() -> LabelSet:
    """Every packaged corpus, each its own source (the file's stem)."""
    return merge(
        read_label_file(f, source=f.name.removesuffix(".jsonl")) for f in packaged_label_files()
    )


def feedback_labels(feedback: Iterable[Mapping[str, Any]]) -> LabelSet:
    """People's verdicts (``risk_feedback`` joined with the message's ``text``, ``channel`` and
    ``thread_context``): the latest verdict per message wins. ``more_serious`` trains on the
    level stored with it (``risk_level``); ``resolved`` is no statement about the level and is
    left out (it neither counts as a problem nor hides an earlier verdict)."""
    found = _Collector()
    latest: dict[str, Mapping[str, Any]] = {}
    for row in feedback:
        if str(row.get("verdict") or "").strip().lower() == RESOLVED:
            continue
        message_id = str(row.get("message_id") or "")
        given = str(row.get("given_at") or "")
        if message_id and (
            message_id not in latest or given >= str(latest[message_id].get("given_at") or "")
        ):
            latest[message_id] = row
    for message_id, row in sorted(latest.items()):
        where = f"risk_feedback:{message_id}"
        given = str(row.get("verdict") or "").strip().lower()
        verdict = FEEDBACK_VERDICTS.get(given)
        if given == MORE_SERIOUS:
            verdict = str(row.get("risk_level") or "").strip().lower()
            if verdict not in LEVELS:
                found.problem(where, f"more_serious without a level (risk_level={verdict!r})")
                continue
        if verdict is None:
            found.problem(where, f"unknown verdict {row.get('verdict')!r}")
            continue
        try:
            record = parse_record(
                {
                    "id": message_id,
                    "text": row.get("text"),
                    "channel": row.get("channel"),
                    "thread_context": row.get("thread_context"),
                    "risk_level": verdict,
                },
                where,
                source="feedback",
            )
        except DatasetError as e:
            found.problem(where, str(e).removeprefix(f"{where}: "))
            continue
        found.rows.append(record)
    return found.result()


def llm_labels(verdicts: Iterable[Mapping[str, Any]]) -> LabelSet:
    """The LLM's judgements (``risk_assessments`` rows judged by the LLM, with the message's text)
    as training rows weighted :data:`LLM_WEIGHT`."""
    found = _Collector()
    for row in verdicts:
        where = f"llm:{row.get('message_id')}"
        try:
            record = parse_record(
                {
                    "id": row.get("message_id"),
                    "text": row.get("text"),
                    "channel": row.get("channel"),
                    "thread_context": row.get("thread_context"),
                    "risk_level": row.get("risk_level"),
                    "risk_category": row.get("risk_category"),
                    "requires_attention": row.get("requires_attention"),
                },
                where,
                source="llm",
            )
        except DatasetError as e:
            found.problem(where, str(e).removeprefix(f"{where}: "))
            continue
        found.rows.append(replace(record, weight=LLM_WEIGHT))
    return found.result()


def _text_key(row: LabeledMessage) -> tuple[str, str]:
    return (
        " ".join(row.text.split()).lower(),
        " ".join((row.thread_context or "").split()).lower(),
    )


def merge(sets: Iterable[LabelSet]) -> LabelSet:
    """All rows once per (text, thread context): a person's label beats the LLM's, and a later
    human source (the team's file, feedback) beats an earlier one; problems are kept in order."""
    chosen: dict[tuple[str, str], LabeledMessage] = {}
    problems: list[LabelProblem] = []
    count = 0
    for label_set in sets:
        problems.extend(label_set.problems[: max(0, MAX_PROBLEMS_KEPT - len(problems))])
        count += label_set.problem_count
        for row in label_set.rows:
            key = _text_key(row)
            held = chosen.get(key)
            if held is not None and held.weight > row.weight:
                continue
            chosen.pop(key, None)  # re-insert: the newer label takes its place in order
            chosen[key] = row
    return LabelSet(tuple(chosen.values()), tuple(problems), count)
