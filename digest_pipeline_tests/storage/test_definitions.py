"""The storage domain binds the configured backend; PostgreSQL secrets only through dg.EnvVar."""

import dagster as dg

from digest_pipeline.definitions import build_defs
from digest_pipeline.defs.analytics import definitions as analytics
from digest_pipeline.defs.storage import definitions as storage
from digest_pipeline.defs.storage.postgres import PostgresWarehouseIOManager
from digest_pipeline.settings import Settings, load_settings


def test_postgres_binds_database_url_as_an_env_var_and_runs_steps_in_processes(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://digest:s3cret@db:5432/digest")
    settings = load_settings(
        {"DIGEST_WAREHOUSE": "postgres", "DATABASE_URL": "postgresql://db/digest"}
    )
    defs = storage.build_defs(settings)
    io_manager, warehouse = defs.resources["io_manager"], defs.resources["warehouse"]
    assert isinstance(io_manager, PostgresWarehouseIOManager)
    assert warehouse.backend == "postgres"
    for resource in (io_manager, warehouse):
        assert isinstance(resource.database_url, dg.EnvVar)
        assert "s3cret" not in repr(resource)
    assert defs.executor is dg.multiprocess_executor


def test_the_whole_code_location_loads_on_postgres_with_the_analytics_domain():
    settings = Settings(warehouse="postgres", has_database_url=True)
    defs = dg.Definitions.merge(build_defs(settings), analytics.build_defs(settings))
    dg.Definitions.validate_loadable(defs)
    assert defs.resolve_job_def("hourly_digest_job").executor_def is dg.multiprocess_executor


def test_duckdb_stays_in_process(duckdb_path):
    defs = storage.build_defs(Settings(duckdb_path=duckdb_path))
    assert defs.executor is dg.in_process_executor
