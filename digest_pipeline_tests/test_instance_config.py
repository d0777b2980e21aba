"""The instance configuration (dagster.yaml, deploy/dagster.yaml): crashed runs are found and
re-run, failed steps are not re-run as whole runs."""

import shutil
from pathlib import Path

import dagster as dg
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.chaos


def test_the_local_instance_monitors_runs_and_retries_only_crashes(tmp_path: Path) -> None:
    shutil.copy(ROOT / "dagster.yaml", tmp_path / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        assert instance.run_monitoring_enabled
        assert instance.run_monitoring_max_resume_run_attempts == 0
        assert 0 < instance.run_monitoring_start_timeout_seconds <= 300
        assert instance.run_monitoring_max_runtime_seconds > 0  # the default launcher's only net
        assert instance.run_retries_enabled
        assert instance.run_retries_retry_on_asset_or_op_failure is False


def test_the_production_instance_has_the_same_run_monitoring_and_retries() -> None:
    config = yaml.safe_load((ROOT / "deploy" / "dagster.yaml").read_text())
    local = yaml.safe_load((ROOT / "dagster.yaml").read_text())
    assert config["run_retries"]["retry_on_asset_or_op_failure"] is False
    monitoring = config["run_monitoring"]
    assert monitoring["enabled"] and monitoring["max_resume_run_attempts"] == 0
    assert monitoring["max_runtime_seconds"] == local["run_monitoring"]["max_runtime_seconds"]
