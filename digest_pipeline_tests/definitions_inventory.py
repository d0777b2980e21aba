"""Every job, schedule, sensor, asset and check the code location shows, as plain JSON.

The UI and the run history key on these names, tags, crons and targets, so moving definitions
between modules must leave the inventory unchanged. ``test_definitions.py`` holds the
jobs, schedules and sensors against ``definitions_inventory.json``; to compare everything
(assets and checks too) between two checkouts, run in each::

    .venv/bin/python -m digest_pipeline_tests.definitions_inventory > inventory.json

and diff the two files. ``--runs`` prints only what the golden file holds (and regenerates it,
when a job, schedule or sensor is added on purpose).
"""

import json
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg

from digest_pipeline.definitions import build_defs
from digest_pipeline.settings import Settings

# A tick of each schedule at this moment shows what it requests, not only when it runs.
TICK = datetime(2026, 3, 11, 7, 0, tzinfo=UTC)


def variants(folder: Path) -> dict[str, Settings]:
    """The settings that change which definitions exist: alerts, the LLM, PostgreSQL."""
    duckdb_path = str(folder / "warehouse.duckdb")
    return {
        "default": Settings(duckdb_path=duckdb_path),
        "alerts": Settings(duckdb_path=duckdb_path, has_slack_token=True, alert_channel="C0ALERT"),
        "llm": Settings(duckdb_path=duckdb_path, has_openai_key=True),
        "postgres": Settings(warehouse="postgres", has_database_url=True),
    }


def _status(status: object) -> str | None:
    return getattr(status, "value", None)


def _job(job: dg.JobDefinition) -> dict[str, Any]:
    graph = job.asset_layer.asset_graph
    return {
        "description": job.description,
        "tags": dict(job.tags),
        "partitions": repr(job.partitions_def) if job.partitions_def else None,
        "assets": sorted(k.to_user_string() for k in job.asset_layer.selected_asset_keys),
        "checks": sorted(k.to_user_string() for k in graph.asset_check_keys),
    }


def _request(request: dg.RunRequest) -> dict[str, Any]:
    return {
        "run_key": request.run_key,
        "partition_key": request.partition_key,
        "tags": request.tags,
    }


def _schedule(schedule: dg.ScheduleDefinition, repo: dg.RepositoryDefinition) -> dict[str, Any]:
    tick = dg.build_schedule_context(scheduled_execution_time=TICK, repository_def=repo)
    return {
        "cron": schedule.cron_schedule,
        "timezone": schedule.execution_timezone,
        "job": schedule.job_name,
        "default_status": _status(schedule.default_status),
        "description": schedule.description,
        "tags": dict(schedule.tags),
        "tick": [_request(r) for r in schedule.evaluate_tick(tick).run_requests or []],
    }


def _sensor(sensor: dg.SensorDefinition) -> dict[str, Any]:
    monitored = getattr(sensor, "_monitored_jobs", None) or []
    return {
        "type": sensor.sensor_type.value,
        "jobs": sorted(t.job_name for t in sensor.targets if t.has_job_def or t.job_name),
        "monitored_jobs": sorted(getattr(j, "name", str(j)) for j in monitored),
        "minimum_interval_seconds": sensor.minimum_interval_seconds,
        "default_status": _status(sensor.default_status),
        "description": sensor.description,
        "tags": dict(sensor.tags),
        "required_resources": sorted(sensor.required_resource_keys),
    }


def inventory(defs: dg.Definitions, *, with_assets: bool = True) -> dict[str, Any]:
    repo = defs.get_repository_def()
    found: dict[str, Any] = {
        "jobs": {j.name: _job(j) for j in repo.get_all_jobs() if j.name != "__ASSET_JOB"},
        "schedules": {s.name: _schedule(s, repo) for s in repo.schedule_defs},
        "sensors": {s.name: _sensor(s) for s in repo.sensor_defs},
    }
    if with_assets:
        graph = defs.resolve_asset_graph()
        found["assets"] = {
            node.key.to_user_string(): {
                "group": node.group_name,
                "partitions": repr(node.partitions_def) if node.partitions_def else None,
                "kinds": sorted(node.kinds),
            }
            for node in graph.asset_nodes
        }
        found["checks"] = sorted(k.to_user_string() for k in graph.asset_check_keys)
        found["resources"] = sorted(repo.get_top_level_resources())
    return found


def full_inventory(folder: Path, *, with_assets: bool = True) -> dict[str, Any]:
    return {
        name: inventory(build_defs(settings), with_assets=with_assets)
        for name, settings in variants(folder).items()
    }


def runs_contract(folder: Path) -> dict[str, Any]:
    """What the UI and the run history key on: jobs (with their assets, not their checks, which
    grow), schedules and sensors, as JSON would give them back."""
    found = full_inventory(folder, with_assets=False)
    for variant in found.values():
        for job in variant["jobs"].values():
            del job["checks"]
    return json.loads(json.dumps(found, default=str))


if __name__ == "__main__":
    what = runs_contract if sys.argv[1:] == ["--runs"] else full_inventory
    with tempfile.TemporaryDirectory() as folder:
        json.dump(what(Path(folder)), sys.stdout, indent=1, sort_keys=True, default=str)
        sys.stdout.write("\n")
