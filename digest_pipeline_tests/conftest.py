import os
from dataclasses import dataclass
from pathlib import Path

import pytest

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")


@pytest.fixture(autouse=True)
def _no_stop_from_an_earlier_test():
    """The LLM stop signal is per process and per (server, key): a fake OpenAI server that gets
    the port of an earlier test's server, with the same test key, would inherit a stop that
    test tripped (a quota or auth probe) and make no call. Every test starts without one."""
    from digest_pipeline.defs.llm import calls

    calls._STOPS.clear()


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


# A test parametrized over these runs on DuckDB and, marked ``integration``, on PostgreSQL.
BACKENDS = ["duckdb", pytest.param("postgres", marks=pytest.mark.integration)]


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest):
    """An empty warehouse on each backend (storage/stores.py): its I/O manager, its Warehouse,
    and a plain client; the PostgreSQL case needs the test server."""
    from digest_pipeline_tests.storage.stores import duckdb_store, postgres_store

    if request.param == "postgres":
        return postgres_store(request.getfixturevalue("postgres_url"))
    return duckdb_store(request.getfixturevalue("duckdb_path"))


# --- the whole pipeline on the demo workspace (shared by the end-to-end tests) ----------------

QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
HOURS = ["2026-03-10-15:00", "2026-03-10-16:00", "2026-03-10-17:00"]
DAY = "2026-03-10"


def run_demo_pipeline(settings, instance=None, *, backfill: bool = False) -> list[str]:
    """Three hours, one of them twice (a re-run must replace, never duplicate), the daily digest,
    and the analyst views; with ``backfill`` the three hours are one single-run backfill.

    Fails on any failed asset step; returns the failed asset-check steps (checks are
    non-blocking: a failed check does not stop the assets)."""
    import dagster as dg

    from digest_pipeline.definitions import build_defs
    from digest_pipeline.defs.analytics.assets import analyst_views

    defs = build_defs(settings)
    asset_steps = {
        key.to_python_identifier() for key in defs.resolve_asset_graph().get_all_asset_keys()
    }
    failed_checks: list[str] = []

    def run(job: dg.JobDefinition, **kwargs) -> None:
        result = job.execute_in_process(
            run_config=QUIET, raise_on_error=False, instance=instance, **kwargs
        )
        failed = [e.step_key for e in result.get_step_failure_events()]
        if not result.success and (not failed or any(step in asset_steps for step in failed)):
            raise AssertionError(f"{job.name} {kwargs}: steps failed: {failed}")
        failed_checks.extend(failed)

    hourly = defs.resolve_job_def("hourly_digest_job")
    if backfill:  # the hours as one single-run backfill, then one of them again
        from digest_pipeline.defs.pipeline.schedules import range_tags

        run(hourly, tags=range_tags(HOURS[0], HOURS[-1]))
        run(hourly, partition_key=HOURS[1])
    else:
        for key in [*HOURS, HOURS[1]]:
            run(hourly, partition_key=key)
    run(defs.resolve_job_def("daily_digest_job"), partition_key=DAY)
    dg.materialize(
        [analyst_views],
        resources={"warehouse": defs.resources["warehouse"]},
        instance=instance,
        run_config=QUIET,
    )
    return sorted(set(failed_checks))


@dataclass(frozen=True)
class DemoWarehouse:
    """The demo pipeline's tables on one backend, with what its asset checks left."""

    backend: str  # "duckdb" or "postgres"
    location: str  # the DuckDB file, or the PostgreSQL database URL
    backfill: bool  # the hours ran as one single-run backfill (else one run per hour)
    failed_checks: tuple[str, ...]

    def sql(self, query: str) -> list[tuple]:
        """The rows of ``query`` from a plain client; tables are ``digest.<table>`` on both
        backends (the DuckDB file is named ``warehouse.duckdb``, as the default is, so that
        ``digest`` names the schema, not the catalog)."""
        if self.backend == "postgres":
            import psycopg

            with psycopg.connect(self.location) as conn:
                return conn.execute(query).fetchall()
        import duckdb

        with duckdb.connect(self.location, read_only=True) as conn:
            return conn.execute(query).fetchall()

    def scalar(self, query: str):
        return self.sql(query)[0][0]


def demo_settings(backend: str, location: str, folder: str, model_dir: str):
    """Settings for the demo pipeline into ``location``; every folder a run writes is under
    ``folder`` (or is ``model_dir``): nothing lands in the user's data/. On PostgreSQL the
    resources read the warehouse URL from DATABASE_URL when a run starts: set it for the run."""
    from digest_pipeline.settings import Settings, load_settings

    if backend == "duckdb":  # the model and the digests beside the file, as by default
        return Settings(duckdb_path=location)
    return load_settings(
        {
            "DIGEST_WAREHOUSE": "postgres",
            "DATABASE_URL": "postgresql://db/set-by-env",
            "DIGEST_MODEL_DIR": model_dir,
            "DIGEST_OUTPUT_DIR": os.path.join(folder, "digests"),
        }
    )


@pytest.fixture(scope="session")
def duckdb_pipeline(tmp_path_factory) -> DemoWarehouse:
    """The demo pipeline materialized into a temporary DuckDB file, one run per hour, with the
    ephemeral instance (as ``make demo`` runs it)."""
    folder = tmp_path_factory.mktemp("e2e")
    path = str(folder / "warehouse.duckdb")
    failed_checks = run_demo_pipeline(demo_settings("duckdb", path, str(folder), ""))
    return DemoWarehouse("duckdb", path, backfill=False, failed_checks=tuple(failed_checks))


DEPLOY = Path(__file__).resolve().parents[1] / "deploy"


@pytest.fixture(scope="session")
def postgres_instance(postgres_databases, tmp_path_factory):
    """The production Dagster instance (deploy/dagster.yaml: dagster-postgres run, event and
    schedule storage) on a fresh database of the test server."""
    import shutil

    import dagster as dg

    home = tmp_path_factory.mktemp("dagster_home")
    shutil.copy(DEPLOY / "dagster.yaml", home / "dagster.yaml")
    # dagster-postgres speaks psycopg2; SQLAlchemy 2.1 maps a bare postgresql:// to psycopg 3.
    url = postgres_databases().replace("postgresql://", "postgresql+psycopg2://")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("DAGSTER_POSTGRES_URL", url)
        instance = dg.DagsterInstance.from_config(str(home))
    with instance:
        yield instance


@pytest.fixture(scope="session")
def postgres_pipeline(
    postgres_databases, postgres_instance, tmp_path_factory, risk_model_dir
) -> DemoWarehouse:
    """The demo pipeline on PostgreSQL as production runs it: DIGEST_WAREHOUSE=postgres for the
    tables, the production instance, the hours as one single-run backfill.

    Session-scoped, so that it is built once per pytest-xdist worker whatever the test order."""
    url = postgres_databases()
    folder = str(tmp_path_factory.mktemp("e2e_postgres"))
    with pytest.MonkeyPatch.context() as env:
        env.setenv("DATABASE_URL", url)
        failed_checks = run_demo_pipeline(
            demo_settings("postgres", url, folder, risk_model_dir),
            instance=postgres_instance,
            backfill=True,
        )
    return DemoWarehouse("postgres", url, backfill=True, failed_checks=tuple(failed_checks))


# --- the risk model ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def risk_model_dir(tmp_path_factory) -> str:
    """A model folder holding the packaged labels' model (trained once per test process)."""
    from digest_pipeline.defs.risk.store import RiskModelStore

    folder = str(tmp_path_factory.mktemp("models"))
    RiskModelStore(model_dir=folder).current()
    return folder


# --- Tests write only into temporary folders -----------------------------------------------------
# The user's data/ (the demo warehouse, digests, models) must be exactly as the suite found it.

_DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data")


def _data_snapshot() -> dict[str, tuple[int, int]]:
    found = {}
    for folder, _, names in os.walk(_DATA):
        for name in names:
            path = os.path.join(folder, name)
            try:
                stat = os.stat(path)
            except OSError:
                continue
            found[path] = (stat.st_size, stat.st_mtime_ns)
    return found


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config._data_before = _data_snapshot()  # type: ignore[attr-defined]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if hasattr(session.config, "workerinput"):  # the xdist controller checks once, at the end
        return
    before = getattr(session.config, "_data_before", None)
    if before is None:
        return
    after = _data_snapshot()
    touched = sorted(p for p in set(before) | set(after) if before.get(p) != after.get(p))
    if touched:
        session.config.get_terminal_writer().line(
            f"tests wrote into {_DATA}: {touched[:10]}", red=True
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
