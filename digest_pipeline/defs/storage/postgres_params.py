"""SQL with ``?`` placeholders, as DuckDB takes them, translated for psycopg."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import numpy as np

_ARRAY_TYPES: tuple[tuple[type, str], ...] = (
    (bool, "boolean[]"),
    (int, "bigint[]"),
    (float, "double precision[]"),
    (datetime, "timestamptz[]"),
    (date, "date[]"),
    (str, "text[]"),
)


def _array_cast(values: Sequence[Any]) -> str:
    sample = next((v for v in values if v is not None), None)
    for kind, sql_type in _ARRAY_TYPES:
        if sample is None or isinstance(sample, kind):
            return sql_type
    return "text[]"


def to_pyformat(sql: str, params: Sequence[Any] = ()) -> tuple[str, list[Any]]:
    """Translate ``?`` placeholders to psycopg's ``%s`` (and ``%`` to ``%%``).

    ``?`` inside string literals, quoted identifiers, dollar quotes and comments is left alone. A
    list or tuple parameter becomes a typed array (``CAST(%s AS text[])``), so DuckDB's
    ``IN (SELECT unnest(?))`` works unchanged: PostgreSQL cannot infer an untyped array's type.
    """
    out: list[str] = []
    values = list(params)
    index = 0
    i = 0
    n = len(sql)
    while i < n:
        ch = sql[i]
        if ch == "'":
            escapes = i > 0 and sql[i - 1] in "eE"
            j = i + 1
            while j < n:
                if escapes and sql[j] == "\\":
                    j += 2
                    continue
                if sql[j] == "'":
                    if j + 1 < n and sql[j + 1] == "'":
                        j += 2
                        continue
                    break
                j += 1
            out.append(sql[i : j + 1].replace("%", "%%"))
            i = j + 1
        elif ch == '"':
            j = sql.find('"', i + 1)
            j = n - 1 if j < 0 else j
            out.append(sql[i : j + 1].replace("%", "%%"))
            i = j + 1
        elif sql.startswith("--", i):
            j = sql.find("\n", i)
            j = n if j < 0 else j
            out.append(sql[i:j].replace("%", "%%"))
            i = j
        elif sql.startswith("/*", i):
            j = sql.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(sql[i:j].replace("%", "%%"))
            i = j
        elif ch == "$" and (match := re.match(r"\$[A-Za-z_]*\$", sql[i:])):
            tag = match.group(0)
            j = sql.find(tag, i + len(tag))
            j = n if j < 0 else j + len(tag)
            out.append(sql[i:j].replace("%", "%%"))
            i = j
        elif ch == "?":
            if index >= len(values):
                raise ValueError(f"SQL has more ? placeholders than the {len(values)} parameters")
            value = values[index]
            if isinstance(value, list | tuple | np.ndarray):
                values[index] = list(value)
                out.append(f"CAST(%s AS {_array_cast(values[index])})")
            else:
                out.append("%s")
            index += 1
            i += 1
        elif ch == "%":
            out.append("%%")
            i += 1
        else:
            out.append(ch)
            i += 1
    if index != len(values):
        raise ValueError(f"SQL has {index} ? placeholders but {len(values)} parameters were given")
    return "".join(out), values
