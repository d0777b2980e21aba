"""Storage: the warehouse I/O manager and query resource for the configured backend."""

import dagster as dg

from digest_pipeline.defs.storage.duckdb import DuckDBWarehouseIOManager
from digest_pipeline.defs.storage.postgres import PostgresWarehouseIOManager
from digest_pipeline.defs.storage.warehouse import Warehouse
from digest_pipeline.settings import Settings

SCHEMA = "digest"


def build_defs(settings: Settings) -> dg.Definitions:
    if settings.warehouse == "postgres":
        # DATABASE_URL carries a password: it reaches the resources only through dg.EnvVar.
        return dg.Definitions(
            resources={
                "warehouse": Warehouse(
                    backend="postgres",
                    database_url=dg.EnvVar("DATABASE_URL"),
                    schema_name=SCHEMA,
                ),
                "io_manager": PostgresWarehouseIOManager(
                    database_url=dg.EnvVar("DATABASE_URL"), schema=SCHEMA
                ),
            },
            # PostgreSQL takes concurrent writers: independent steps run in parallel processes.
            executor=dg.multiprocess_executor,
        )
    return dg.Definitions(
        resources={
            "warehouse": Warehouse(backend="duckdb", duckdb_path=settings.duckdb_path),
            "io_manager": DuckDBWarehouseIOManager(database=settings.duckdb_path, schema=SCHEMA),
        },
        # DuckDB allows one writer per file: run a job's steps one after another.
        executor=dg.in_process_executor,
    )
