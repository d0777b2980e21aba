import os

import pytest

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")


@pytest.fixture
def duckdb_path(tmp_path) -> str:
    return str(tmp_path / "warehouse" / "digest.duckdb")
