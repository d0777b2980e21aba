"""The ``store`` fixture: each storage test runs on DuckDB and, marked ``integration``, on
PostgreSQL."""

import pytest

from digest_pipeline_tests.storage.stores import Store, duckdb_store, postgres_store


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.integration)])
def store(request: pytest.FixtureRequest) -> Store:
    """The same warehouse on each backend; the PostgreSQL case needs the test server."""
    if request.param == "postgres":
        return postgres_store(request.getfixturevalue("postgres_url"))
    return duckdb_store(request.getfixturevalue("duckdb_path"))
