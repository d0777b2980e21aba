"""Storage: the warehouse I/O manager and query resource for the configured backend."""

import dagster as dg

from digest_pipeline.defs.storage.duckdb import DuckDBWarehouseIOManager
from digest_pipeline.defs.storage.warehouse import Warehouse
from digest_pipeline.settings import Settings


def build_defs(settings: Settings) -> dg.Definitions:
    if settings.warehouse != "duckdb":
        raise NotImplementedError("DIGEST_WAREHOUSE=postgres is not available yet")
    return dg.Definitions(
        resources={
            "warehouse": Warehouse(backend="duckdb", duckdb_path=settings.duckdb_path),
            "io_manager": DuckDBWarehouseIOManager(database=settings.duckdb_path, schema="digest"),
        },
        # DuckDB allows one writer per file: run a job's steps one after another.
        executor=dg.in_process_executor,
    )
