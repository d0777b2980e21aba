"""Digest checks: every cited message exists, and a digest that stops arriving shows as stale.

``*_cites_existing_messages`` read the partition's digest rows back from the warehouse, collect
every ``message_id`` they cite (top risks, new, escalated, resolved, action items, unanswered
questions) and look them up in ``messages``. A digest that quotes a message the warehouse no
longer has (deleted and reconciled away, or a bug in ranking) fails with the missing IDs.

Freshness: the hourly digest must have been materialized between :00 and :30 of every hour
(the schedule runs at :05), and the daily digest's previous local day must exist two hours after
``DIGEST_DAILY_AT``. ``digest_freshness_sensor`` evaluates them; a stale digest shows as a failed
(warning) check on the asset in the UI.
"""

import json
import warnings
from collections.abc import Iterable, Sequence
from datetime import timedelta

import dagster as dg
import pandas as pd

from digest_pipeline.defs.digest.assets import daily_digest, hourly_digest
from digest_pipeline.defs.partitions import daily_partitions, hourly_partitions
from digest_pipeline.defs.storage.warehouse import Warehouse

CITING_COLUMNS = (
    "top_risks",
    "new_risks",
    "escalated_risks",
    "resolved_risks",
    "action_items",
    "unanswered_questions",
    "summary_citations",
)
SHOWN_MISSING = 20


def cited_message_ids(rows: pd.DataFrame) -> set[str]:
    """Every ``message_id`` cited in a digest table's JSON columns."""
    ids: set[str] = set()
    for column in CITING_COLUMNS:
        if column not in rows.columns:
            continue
        for value in rows[column].dropna():
            items = json.loads(value) if isinstance(value, str) else value
            ids.update(str(i["message_id"]) for i in items or [] if i.get("message_id"))
    return ids


def missing_messages(warehouse: Warehouse, ids: Iterable[str]) -> list[str]:
    wanted = sorted(set(ids))
    if not wanted:
        return []
    if not warehouse.table_exists("messages"):
        return wanted
    found = warehouse.query(
        "SELECT id FROM {schema}.messages WHERE id IN (SELECT unnest(?))", [wanted]
    )
    return sorted(set(wanted) - set(found["id"]))


def evidence_result(
    warehouse: Warehouse, table: str, context: dg.AssetCheckExecutionContext
) -> dg.AssetCheckResult:
    window = context.partition_time_window
    if not warehouse.table_exists(table):
        return dg.AssetCheckResult(passed=False, metadata={"error": f"{table} does not exist"})
    # Only the citing columns: the Markdown and summaries are never read here.
    rows = warehouse.query(
        f"SELECT {', '.join(CITING_COLUMNS)} FROM {{schema}}.{table}"
        " WHERE window_start >= ? AND window_start < ?",
        [window.start, window.end],
    )
    cited = cited_message_ids(rows)
    missing = missing_messages(warehouse, cited)
    return dg.AssetCheckResult(
        passed=not missing,
        metadata={
            "digest_rows": len(rows),
            "cited_messages": len(cited),
            "missing_messages": len(missing),
            "missing_sample": dg.MetadataValue.json(missing[:SHOWN_MISSING]),
            "window_start": window.start.isoformat(),
            "window_end": window.end.isoformat(),
        },
    )


def _cites_existing_messages(
    asset: dg.AssetsDefinition, partitions_def: dg.PartitionsDefinition, cadence: str
) -> dg.AssetChecksDefinition:
    """``<digest>_cites_existing_messages``: the :func:`evidence_result` of one digest table."""
    table = asset.key.path[-1]

    @dg.asset_check(
        asset=asset,
        name=f"{table}_cites_existing_messages",
        partitions_def=partitions_def,
        description=f"Every message the {cadence} digest cites exists in messages.",
    )
    def cites_existing_messages(
        context: dg.AssetCheckExecutionContext, warehouse: Warehouse
    ) -> dg.AssetCheckResult:
        return evidence_result(warehouse, table, context)

    return cites_existing_messages


hourly_digest_cites_existing_messages = _cites_existing_messages(
    hourly_digest, hourly_partitions, "hourly"
)
daily_digest_cites_existing_messages = _cites_existing_messages(
    daily_digest, daily_partitions, "daily"
)


def build_freshness_checks(
    daily_at: tuple[int, int], timezone: str
) -> tuple[Sequence[dg.AssetChecksDefinition], dg.SensorDefinition]:
    hour, minute = daily_at
    # Dagster 1.11+ prefers FreshnessPolicy on the asset, evaluated by the instance's freshness
    # daemon (``freshness: enabled`` in dagster.yaml). These checks work on any instance and show
    # as asset checks; the warning says they are superseded, not deprecated.
    warnings.filterwarnings("ignore", message=".*freshness.*superseded", category=Warning)
    warnings.filterwarnings("ignore", message="Function `build_.*freshness", category=Warning)
    checks = [
        # The hourly partitions end one hour ahead (the urgent sensor may run the current hour),
        # so a time-partition check would expect the hour still in progress: check the last
        # update instead — by :30, something materialized since :00 (the schedule runs at :05).
        *dg.build_last_update_freshness_checks(
            assets=[hourly_digest],
            lower_bound_delta=timedelta(minutes=30),
            deadline_cron="30 * * * *",
            timezone="UTC",
        ),
        *dg.build_time_partition_freshness_checks(
            assets=[daily_digest],
            deadline_cron=f"{minute} {(hour + 2) % 24} * * *",
            timezone=timezone,
        ),
    ]
    sensor = dg.build_sensor_for_freshness_checks(
        freshness_checks=checks,
        name="digest_freshness_sensor",
        default_status=dg.DefaultSensorStatus.STOPPED,
    )
    return checks, sensor
