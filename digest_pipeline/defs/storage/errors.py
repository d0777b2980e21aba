"""Warehouse errors without credentials: the one place a connection or query error is turned into
something Dagster may log, store and show.

libpq and psycopg quote what they could not parse — a whole ``DATABASE_URL`` with a missing colon,
the password itself when it holds a space — and Dagster keeps an exception's message, its cause
and its context in the run's event log. So every warehouse failure goes through
:func:`warehouse_failure`: the message is redacted (URL user-info, ``password=…`` pairs and the
password of the URL in use, wherever it appears), and the original exception is *not* chained; its
stand-in :class:`RedactedError` carries the redacted text and the original traceback (code lines,
never values), so the failure still points at the statement that failed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import quote, unquote

import dagster as dg
import psycopg
import psycopg.conninfo  # a submodule: imported by name, not reached through the package

REDACTED = "***"

# ``scheme://user:secret@`` and the missing-colon ``scheme//user:secret@``: keep the user name.
_URL_USERINFO = re.compile(
    r"(?P<prefix>[A-Za-z][A-Za-z0-9+.-]*:?//)(?P<user>[^:@/\s\"']*)(?::[^@\s\"']*)?@"
)
# ``password=secret`` in a libpq conninfo string or a URL query, quoted or not.
_CONNINFO_PASSWORD = re.compile(
    r"(?P<key>\bpassword\s*=\s*)(?:'(?:[^'\\]|\\.)*'|[^\s&]+)", re.IGNORECASE
)


class RedactedError(Exception):
    """Stands in for a driver exception whose text may hold a secret: the redacted text and the
    original's type name and traceback, never the original object."""


class WarehouseError(dg.Failure):
    """A warehouse failure; its message names ``user@host:port/db`` at most, never a password."""


class WarehouseConfigError(WarehouseError):
    """``DATABASE_URL`` (or another connection setting) is malformed: final, never retried."""

    def __init__(self, description: str) -> None:
        super().__init__(description, allow_retries=False)


class WarehouseUnavailable(WarehouseError):
    """The server did not answer within the connection budget, or rejected the login. Final:
    the budget already covers a server restart, and a Dagster retry would only wait longer."""

    def __init__(self, description: str) -> None:
        super().__init__(description, allow_retries=False)


class WarehouseQueryError(WarehouseError):
    """A statement failed (including a lock wait past ``lock_timeout``); retries may apply."""


def url_secrets(url: str | None) -> set[str]:
    """Every string in ``url`` that may be its password, however the URL is mangled."""
    if not url:
        return set()
    found: set[str] = set()
    rest = url.split("//", 1)[1] if "//" in url else ""
    if "@" in rest:
        # libpq's reading (user-info ends at the first '@' or '/') and the widest one.
        for userinfo in (re.split(r"[@/]", rest, maxsplit=1)[0], rest.rsplit("@", 1)[0]):
            if ":" in userinfo:
                found.add(userinfo.split(":", 1)[1])
    found.update(
        value.strip("'") for value in re.findall(r"password\s*=\s*('[^']*'|[^\s&]+)", url, re.I)
    )
    try:
        password = psycopg.conninfo.conninfo_to_dict(url).get("password")
    except psycopg.Error:
        password = None
    if password:
        found.add(str(password))
    variants = set()
    for secret in found:
        variants.update({secret, unquote(secret), quote(secret, safe="")})
    return {s for s in variants if s}


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` without URL passwords, ``password=`` values or any of ``secrets``."""
    for secret in sorted(set(secrets), key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    text = _URL_USERINFO.sub(lambda m: f"{m['prefix']}{m['user']}:{REDACTED}@", text)
    return _CONNINFO_PASSWORD.sub(lambda m: f"{m['key']}{REDACTED}", text)


def first_line(error: BaseException, url: str | None) -> str:
    """The redacted first line of an exception's message."""
    lines = str(error).strip().splitlines()
    return redact(lines[0] if lines else type(error).__name__, url_secrets(url))


def describe_url(url: str) -> str:
    """``user@host:port/db`` from a connection URL — never the password."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.Error:
        return "an unparseable DATABASE_URL"
    user = f"{info['user']}@" if info.get("user") else ""
    host = info.get("host") or "localhost"
    port = info.get("port") or 5432
    described = f"{user}{host}:{port}/{info.get('dbname') or '(default)'}"
    return redact(described, url_secrets(url))


def check_database_url(url: str, name: str = "DATABASE_URL") -> None:
    """Parse ``url`` as libpq would, without connecting; raise :class:`WarehouseConfigError` with
    one redacted line if it cannot work (bad syntax, a port that is not a number)."""
    parsed = True
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.Error:
        parsed = False
    # Neither libpq's reason nor any part of the value is repeated: a mangled URL or conninfo
    # string puts pieces of the password anywhere (host, database, "missing = after ...").
    if not parsed:  # raised here, so the driver's exception is not its __context__
        raise WarehouseConfigError(
            f"{name} is not a valid PostgreSQL URL; expected"
            " postgresql://user:password@host:5432/dbname, special characters in the password"
            " percent-encoded"
        )
    for port in str(info.get("port") or "5432").split(","):
        if not (port.strip().isdigit() and 0 < int(port) < 65536):
            raise WarehouseConfigError(
                f"{name} has a port that is not a number between 1 and 65535;"
                " percent-encode '/', '@' and ':' in the password"
            )


def warehouse_failure(
    error: BaseException,
    url: str | None,
    message: str,
    kind: type[WarehouseError] = WarehouseQueryError,
) -> WarehouseError:
    """``kind(message: redacted reason)`` caused by a :class:`RedactedError` stand-in of ``error``.

    Raise the result *outside* the ``except`` block that caught ``error`` (or ``from`` its
    cause), so Python does not chain the original as ``__context__``.
    """
    reason = first_line(error, url)
    cause = RedactedError(f"{type(error).__module__}.{type(error).__qualname__}: {reason}")
    cause.__traceback__ = error.__traceback__
    failure = kind(f"{message}: {reason}")
    failure.__cause__ = cause
    failure.__suppress_context__ = True
    return failure
