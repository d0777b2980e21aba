"""Data quality of ``messages`` with Great Expectations 1.x, as Dagster asset checks.

``dagster-ge`` pins GX < 1.0, so the checks call GX 1.x directly: an ephemeral context, a pandas
data source with one whole-dataframe batch definition, one expectation suite and one
``ValidationDefinition`` run over the partition's rows. Each expectation belongs to one Dagster
check, so the UI shows five checks (ids unique, keys not null, enumerations, sentiment range,
timestamps in the window) that one GX validation evaluates together.

Why partitioned checks (``AssetCheckSpec(partitions_def=hourly_partitions)``, a preview feature
of Dagster 1.13) rather than a check that loads the latest partition from the warehouse: a
result then belongs to the hour it validated (the UI shows it per partition), the rows come
through the I/O manager exactly as the asset wrote them, the window to test timestamps against is
``context.partition_time_window`` (a single-run backfill checks its whole range), and a check of
an old hour never looks at a newer one.

Why ``blocking=False`` and their own job: importing GX costs ~3 s and ~200 MB in a warm process
and ~12 s in a run's fresh process — far more than enriching an hour of messages. In the hourly
job, even a non-blocking check is a step the in-process executor runs before
``risk_assessments``, delaying every digest and urgent alert by that much. So the hourly and
reconcile jobs leave these checks out, and :data:`messages_quality_sensor` (running by default)
requests :data:`messages_quality_job` for each newly materialized hour: a run of its own, queued
after the hour's run, that records a failure without holding the digest back. They can also be
run from the asset's *Checks* tab. GX is imported inside the check only, never when the code
location loads.
"""

import os
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import dagster as dg
import pandas as pd

from digest_pipeline.contract.enumerations import CATEGORIES, LEVELS, MESSAGE_TYPES
from digest_pipeline.defs.partitions import hourly_partitions

ASSET = dg.AssetKey("messages")
KEY_COLUMNS: tuple[str, ...] = ("id", "channel_id", "ts", "timestamp")
ENUMERATIONS: dict[str, tuple[Any, ...]] = {
    "urgency": LEVELS,
    "category": CATEGORIES,
    "message_type": MESSAGE_TYPES,
    "priority_level": (1, 2, 3, 4, 5),
}
SAMPLE = 10  # unexpected values shown per expectation

CHECK_DESCRIPTIONS: dict[str, str] = {
    "ids_unique": "No two rows of the partition share an id (<channel_id>:<ts>).",
    "keys_not_null": f"No null {', '.join(KEY_COLUMNS)}.",
    "enumerations_valid": (
        "urgency, category and message_type are in their vocabularies (contract/enumerations.py); "
        "priority_level is 1-5."
    ),
    "sentiment_in_range": "sentiment_score is present and in [-1, 1].",
    "timestamps_in_window": "Every timestamp is inside the partition's window [start, end).",
}
CHECK_NAMES: tuple[str, ...] = tuple(CHECK_DESCRIPTIONS)


@dataclass(frozen=True)
class CheckOutcome:
    """One Dagster check's verdict, from the GX expectations that belong to it."""

    passed: bool
    metadata: dict[str, Any] = field(default_factory=dict)


def _expectations(gx: Any, start: datetime, end: datetime) -> list[tuple[str, Any]]:
    """(check name, GX expectation) pairs, in check order."""
    ex = gx.expectations
    pairs: list[tuple[str, Any]] = [("ids_unique", ex.ExpectColumnValuesToBeUnique(column="id"))]
    pairs += [("keys_not_null", ex.ExpectColumnValuesToNotBeNull(column=c)) for c in KEY_COLUMNS]
    pairs += [
        ("enumerations_valid", ex.ExpectColumnValuesToBeInSet(column=c, value_set=list(values)))
        for c, values in ENUMERATIONS.items()
    ]
    pairs += [
        ("sentiment_in_range", ex.ExpectColumnValuesToNotBeNull(column="sentiment_score")),
        (
            "sentiment_in_range",
            ex.ExpectColumnValuesToBeBetween(column="sentiment_score", min_value=-1, max_value=1),
        ),
        (
            "timestamps_in_window",
            ex.ExpectColumnValuesToBeBetween(
                column="timestamp", min_value=start, max_value=end, strict_max=True
            ),
        ),
    ]
    return pairs


def _import_gx() -> Any:
    # GX sends usage statistics unless told not to; the pipeline never phones home.
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx  # ~3 s and ~200 MB: only when a check runs
    from great_expectations.data_context.types.base import ProgressBarsConfig

    return gx, ProgressBarsConfig


def _jsonable(value: Any) -> Any:
    if isinstance(value, pd.Timestamp | datetime):
        return value.isoformat()
    if value is None or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _exception_message(info: Any) -> str:
    """GX's exception info is flat or keyed by metric; the first message raised, if any."""
    if not isinstance(info, dict):
        return ""
    candidates = [info, *(v for v in info.values() if isinstance(v, dict))]
    for candidate in candidates:
        if candidate.get("raised_exception"):
            return str(candidate.get("exception_message") or "exception")[:300]
    return ""


def validate_messages(
    frame: pd.DataFrame, start: datetime, end: datetime
) -> dict[str, CheckOutcome]:
    """Run the ``messages`` expectation suite on ``frame`` with GX; one outcome per check.

    ``start``/``end`` bound the partition window (UTC, end exclusive). A missing column fails the
    checks that need it (GX reports the exception) instead of raising.
    """
    gx, progress_bars = _import_gx()
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = progress_bars(globally=False)
    batch = (
        context.data_sources.add_pandas("messages")
        .add_dataframe_asset("messages")
        .add_batch_definition_whole_dataframe("partition")
    )
    suite = context.suites.add(gx.ExpectationSuite(name="messages"))
    # The ignore: pandas types Timestamp(x) as maybe NaT; a datetime never is.
    pairs = _expectations(gx, pd.Timestamp(start), pd.Timestamp(end))  # pyright: ignore[reportArgumentType]
    for _, expectation in pairs:
        suite.add_expectation(expectation)
    validation = context.validation_definitions.add(
        gx.ValidationDefinition(name="messages", data=batch, suite=suite)
    )
    result = validation.run(batch_parameters={"dataframe": frame})

    # Results come back in suite order; map each to its check through the expectation's id.
    check_of = {expectation.id: name for name, expectation in pairs}
    outcomes: dict[str, dict[str, Any]] = {
        name: {"passed": True, "expectations": []} for name in CHECK_NAMES
    }
    for item in result.results:
        config = item.expectation_config
        name = check_of.get(config.id)
        if name is None:
            continue
        details = item.result or {}
        entry: dict[str, Any] = {
            "expectation": config.type,
            "column": config.kwargs.get("column"),
            "success": bool(item.success),
            "unexpected_count": int(details.get("unexpected_count") or 0),
        }
        sample = details.get("partial_unexpected_list") or []
        if sample:
            entry["unexpected_sample"] = [_jsonable(v) for v in sample[:SAMPLE]]
        error = _exception_message(item.exception_info)
        if error:
            entry["error"] = error
        outcomes[name]["expectations"].append(entry)
        outcomes[name]["passed"] = outcomes[name]["passed"] and bool(item.success)
    return {
        name: CheckOutcome(
            passed=o["passed"],
            metadata={
                "rows": len(frame),
                "unexpected": sum(e["unexpected_count"] for e in o["expectations"]),
                "expectations": o["expectations"],
            },
        )
        for name, o in outcomes.items()
    }


def _window(context: dg.AssetCheckExecutionContext) -> tuple[datetime, datetime]:
    window = context.partition_time_window
    return window.start, window.end


# Partitioned check specs are a preview feature in Dagster 1.13 (see the module docstring for
# why we use them); the warning would repeat on every load of the code location.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", dg.PreviewWarning)
    _SPECS = [
        dg.AssetCheckSpec(
            name,
            asset=ASSET,
            description=f"Great Expectations: {text}",
            blocking=False,
            partitions_def=hourly_partitions,
        )
        for name, text in CHECK_DESCRIPTIONS.items()
    ]


@dg.multi_asset_check(
    specs=_SPECS,
    ins={"messages": dg.AssetIn(key=ASSET)},
    can_subset=True,
    compute_kind="great_expectations",
    description="Great Expectations 1.x suite on one partition of messages.",
)
def messages_quality_checks(
    context: dg.AssetCheckExecutionContext, messages: pd.DataFrame
) -> Iterator[dg.AssetCheckResult]:
    start, end = _window(context)
    outcomes = validate_messages(messages, start, end)
    selected = {key.name for key in context.selected_asset_check_keys}
    for name in CHECK_NAMES:
        if name not in selected:
            continue
        outcome = outcomes[name]
        yield dg.AssetCheckResult(
            asset_key=ASSET,
            check_name=name,
            passed=outcome.passed,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={
                **outcome.metadata,
                "window_start": start.isoformat(),
                "window_end": end.isoformat(),
            },
        )


MESSAGES_QUALITY_CHECKS: Sequence[dg.AssetCheckKey] = tuple(
    dg.AssetCheckKey(ASSET, name) for name in CHECK_NAMES
)

# The GX checks alone. Dagster 1.13 infers a job's partitions from its assets only, so this
# checks-only job has none of its own: a run carries the hour in its ``dagster/partition`` tag
# (what :data:`messages_quality_sensor` sets, and what the launchpad's tag editor takes).
messages_quality_job = dg.define_asset_job(
    "messages_quality_job",
    selection=dg.AssetSelection.checks(*MESSAGES_QUALITY_CHECKS),
    description="Great Expectations checks on messages (ids, keys, enumerations, ranges, window).",
)


@dg.sensor(
    job=messages_quality_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Runs the Great Expectations checks on every newly materialized hour of messages (one "
        "run per hour; a single-run backfill of a day gives 24 check runs). Starts at the newest "
        "materialization the first time it is turned on."
    ),
)
def messages_quality_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    if context.cursor is None:
        latest = context.instance.fetch_materializations(ASSET, limit=1)
        newest = latest.records[0].storage_id if latest.records else 0
        return dg.SensorResult(
            skip_reason="starting after the newest materialization", cursor=str(newest)
        )
    records = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=ASSET, after_storage_id=int(context.cursor)),
        limit=200,
        ascending=True,
    ).records
    requests = [
        dg.RunRequest(
            run_key=f"messages-quality:{record.storage_id}",
            tags={"dagster/partition": record.partition_key},
        )
        for record in records
        if record.partition_key
    ]
    cursor = str(records[-1].storage_id) if records else context.cursor
    if not requests:
        return dg.SensorResult(skip_reason="no new hour of messages", cursor=cursor)
    return dg.SensorResult(run_requests=requests, cursor=cursor)
