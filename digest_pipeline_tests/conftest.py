import os

import pytest

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")


@pytest.fixture
def duckdb_path(tmp_path) -> str:
    return str(tmp_path / "warehouse" / "digest.duckdb")


# --- PostgreSQL (tests marked `integration`) ------------------------------------------------------
# The server comes from DIGEST_TEST_DATABASE_URL, else the local one CI starts (.ci/run). Every test
# gets a database of its own, digest_test_<random>, dropped at the end of the session. Without a
# server the tests are skipped locally and fail in CI (CI=true), where they must always run.

DEFAULT_TEST_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def _server_url() -> str:
    return os.environ.get("DIGEST_TEST_DATABASE_URL") or DEFAULT_TEST_DATABASE_URL


@pytest.fixture(scope="session")
def postgres_databases():
    """A factory of fresh, empty databases on the test server (URLs), dropped afterwards."""
    import secrets
    from urllib.parse import urlsplit

    import psycopg

    server = _server_url()
    try:
        admin = psycopg.connect(server, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as e:
        message = f"PostgreSQL not reachable at DIGEST_TEST_DATABASE_URL or {server}: {e}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    created: list[str] = []

    def make() -> str:
        name = f"digest_test_{secrets.token_hex(6)}"
        admin.execute(f'CREATE DATABASE "{name}"')
        created.append(name)
        return urlsplit(server)._replace(path=f"/{name}").geturl()

    yield make
    for name in created:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


@pytest.fixture
def postgres_url(postgres_databases) -> str:
    """A fresh database for this test (URL)."""
    return postgres_databases()
