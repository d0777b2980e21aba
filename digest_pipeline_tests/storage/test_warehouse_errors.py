"""Hostile DATABASE_URLs and an unreachable warehouse: no password anywhere, no long retries.

A mistyped URL used to reach the run's event log verbatim (psycopg quotes what it cannot parse)
and a malformed port was retried 30 times. These tests need no PostgreSQL server: every URL here
fails before, or at, the TCP connect.
"""

import time
import traceback
from collections.abc import Iterator

import dagster as dg
import pandas as pd
import psycopg
import pytest
from dagster._serdes import serialize_value

from digest_pipeline.defs.storage.errors import (
    WarehouseConfigError,
    WarehouseUnavailable,
    describe_url,
    redact,
    url_secrets,
)
from digest_pipeline.defs.storage.postgres import PostgresWarehouseIOManager
from digest_pipeline.defs.storage.postgres_connection import ConnectPolicy, connect_postgres
from digest_pipeline.defs.storage.warehouse import Warehouse
from digest_pipeline.settings import ConfigError, load_settings

pytestmark = pytest.mark.chaos

PASSWORD = "Hunter2-s3cret"
MALFORMED = {
    "missing colon": f"postgresql//digest:{PASSWORD}@db.internal:5432/digest",
    "space in password": f"postgresql://digest:{PASSWORD} x@db.internal:5432/digest",
    "port not a number": f"postgresql://digest:{PASSWORD}@db.internal:54x2/digest",
    "port out of range": f"postgresql://digest:{PASSWORD}@db.internal:99999/digest",
    "slash in password": f"postgresql://digest:{PASSWORD}/x@db.internal:5432/digest",
    "unclosed IPv6 host": f"postgresql://digest:{PASSWORD}@[::1/digest",
    "conninfo, bad port": f"host=db.internal password={PASSWORD} port=abc dbname=digest",
    "conninfo, quoted": f"host=db.internal password='{PASSWORD} x' port=5o32",
    # Found by an independent probe: no "//" at all, and a space in an unquoted conninfo value.
    "one slash": f"postgresql:/digest:{PASSWORD}@db.internal/digest",
    "no scheme": f"digest:{PASSWORD}@db.internal/digest",
    "scheme, no slashes": f"postgresql:digest:{PASSWORD}@db.internal/digest",
    "conninfo, unquoted space": f"host=db.internal password=ab {PASSWORD} dbname=digest",
    "at sign in password, bad port": f"postgresql://digest:a@{PASSWORD}@db.internal:5x/digest",
}
# Port 1 on the loopback refuses at once: the "server down" case without waiting for a timeout.
UNREACHABLE = f"postgresql://digest:{PASSWORD}@127.0.0.1:1/digest"


@pytest.fixture
def connect_attempts(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Counts psycopg.connect calls (and still makes them)."""
    calls: list[str] = []
    real = psycopg.connect

    def counting(*args, **kwargs):
        calls.append("connect")
        return real(*args, **kwargs)

    monkeypatch.setattr(psycopg, "connect", counting)
    yield calls


def _chain(error: BaseException) -> str:
    """Everything Dagster could store about ``error``: message, causes, contexts, traceback."""
    parts, seen, todo = [], set(), [error]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        parts += [repr(e), str(e), *traceback.format_exception(e)]
        todo += [e.__cause__, e.__context__]
    return "\n".join(parts)


@pytest.mark.parametrize("url", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_url_fails_at_once_without_its_password(url: str, connect_attempts) -> None:
    began = time.monotonic()
    with pytest.raises(WarehouseConfigError) as info:
        connect_postgres(url)
    assert time.monotonic() - began < 1
    assert connect_attempts == []
    assert info.value.allow_retries is False
    assert "DATABASE_URL" in str(info.value)
    assert PASSWORD not in _chain(info.value)


@pytest.mark.parametrize("url", MALFORMED.values(), ids=MALFORMED.keys())
def test_settings_reject_a_malformed_url_in_one_line_without_its_password(url: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings({"DIGEST_WAREHOUSE": "postgres", "DATABASE_URL": url})
    assert str(info.value).startswith("DATABASE_URL")
    assert "\n" not in str(info.value)
    assert PASSWORD not in _chain(info.value)


def test_settings_accept_good_urls() -> None:
    for url in (
        "postgresql://digest:p%40ss%2Fw%20rd@db:5432/digest?sslmode=require",
        "postgres://db/digest",
        "host=db port=5432 dbname=digest user=digest password='two words'",
        "postgresql://digest@h1:5432,h2:5433/digest",
    ):
        assert load_settings({"DIGEST_WAREHOUSE": "postgres", "DATABASE_URL": url}).warehouse


def test_redact_strips_url_user_info_conninfo_passwords_and_known_secrets() -> None:
    text = (
        f'missing "=" after "postgresql//ana:{PASSWORD}@h/db" in connection info string; '
        f"host=h password='{PASSWORD} x' port=1; also postgresql+psycopg2://bo:other@h/db"
        f' and unexpected spaces found in "{PASSWORD} x"'
    )
    clean = redact(text, url_secrets(f"postgresql://ana:{PASSWORD} x@h/db"))
    assert PASSWORD not in clean and "other" not in clean
    assert "postgresql//ana:***@h/db" in clean and "bo:***@h" in clean
    assert describe_url(f"postgresql://ana:{PASSWORD}@h:6543/db") == "ana@h:6543/db"


def test_an_unreachable_server_gets_three_attempts_in_seconds_then_fails_for_good(
    connect_attempts,
) -> None:
    waits: list[float] = []
    with pytest.raises(WarehouseUnavailable) as info:
        connect_postgres(UNREACHABLE, sleep=waits.append)
    assert len(connect_attempts) == 3 and waits == [2.0, 2.0]
    assert info.value.allow_retries is False
    message = str(info.value)
    assert "digest@127.0.0.1:1/digest" in message and "3 attempt(s)" in message
    assert PASSWORD not in _chain(info.value)


def test_the_retry_budget_bounds_the_attempts(connect_attempts) -> None:
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    policy = ConnectPolicy(attempts=10, wait_seconds=4.0, budget_seconds=10.0)
    with pytest.raises(WarehouseUnavailable):
        connect_postgres(UNREACHABLE, policy, sleep=sleep, clock=lambda: now[0])
    assert len(connect_attempts) == 3 and now[0] == 8.0  # a fourth would start past 10 s


# --- through Dagster: the run's event log and run storage -----------------------------------------


@dg.asset(
    metadata={"dagster/column_schema": dg.TableSchema(columns=[dg.TableColumn("id", "VARCHAR")])},
    retry_policy=dg.RetryPolicy(max_retries=2, delay=0),
)
def written_table() -> pd.DataFrame:
    return pd.DataFrame({"id": ["a"]})


@dg.asset(retry_policy=dg.RetryPolicy(max_retries=2, delay=0))
def queried_table(warehouse: Warehouse) -> None:
    warehouse.query("SELECT 1")


def _stored(instance: dg.DagsterInstance, run_id: str) -> str:
    records = instance.all_logs(run_id)
    return serialize_value(records) + serialize_value(instance.get_run_by_id(run_id))


@pytest.mark.parametrize(
    "url", [*MALFORMED.values(), UNREACHABLE], ids=[*MALFORMED.keys(), "unreachable"]
)
def test_a_failed_run_stores_no_password_and_is_not_retried(
    url: str, monkeypatch: pytest.MonkeyPatch, connect_attempts
) -> None:
    monkeypatch.setenv("DATABASE_URL", url)
    quick = {"connect_wait_seconds": 0.01}
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(
        [written_table, queried_table],
        instance=instance,
        resources={
            "io_manager": PostgresWarehouseIOManager(
                database_url=dg.EnvVar("DATABASE_URL"), schema="digest", **quick
            ),
            "warehouse": Warehouse(
                backend="postgres", database_url=dg.EnvVar("DATABASE_URL"), **quick
            ),
        },
        raise_on_error=False,
    )
    assert not result.success
    failures = [e for e in result.all_events if e.is_step_failure]
    assert {e.step_key for e in failures} == {"written_table", "queried_table"}
    assert not [e for e in result.all_events if e.is_step_up_for_retry]
    assert len(connect_attempts) == (6 if url == UNREACHABLE else 0)  # 3 a step, or none
    stored = _stored(instance, result.run_id)
    assert "DATABASE_URL" in stored or "127.0.0.1:1" in stored  # the failures are there...
    assert PASSWORD not in stored  # ...without the password
