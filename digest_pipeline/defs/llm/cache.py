"""The response cache: a warehouse table of the model's answers, one row per (input hash, model,
prompt version).

The input hash covers exactly what the model is sent, so the same input to the same model and
prompt is never asked twice: re-running a partition or a backfill costs no call for what did not
change. Only answers that were accepted are stored; a failure is asked again on the next run.
Each user declares its own table (its answer columns) with :func:`cache_schema`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import dagster as dg
import pandas as pd

from digest_pipeline.defs.storage.schema import column_names, table_schema
from digest_pipeline.defs.storage.warehouse import Warehouse

CACHE_KEY = ("input_hash", "model", "prompt_version")


def cache_schema(
    input_description: str, prompt_description: str, *answer: tuple[str, str, str]
) -> dg.TableSchema:
    """The key columns (what the input hash covers and whose prompt version it is), then the
    ``answer`` columns as ``(name, sql_type, description)``."""
    return table_schema(
        ("input_hash", "VARCHAR", input_description),
        ("model", "VARCHAR", "LLM model (key)"),
        ("prompt_version", "VARCHAR", prompt_description),
        *answer,
    )


@dataclass(frozen=True)
class ResponseCache:
    """One cache table: ``schema`` starts with the :data:`CACHE_KEY` columns."""

    table: str
    schema: dg.TableSchema

    def lookup(
        self, warehouse: Warehouse, hashes: Sequence[str], *, model: str, prompt_version: str
    ) -> pd.DataFrame:
        """The rows cached for ``hashes`` (none before the table's first answer)."""
        wanted = sorted(set(hashes))
        if not wanted or not warehouse.table_exists(self.table):
            # The ignore: pandas' own Axes annotation rejects list[str], which pandas takes.
            return pd.DataFrame(columns=column_names(self.schema))  # pyright: ignore[reportArgumentType]
        return warehouse.query(
            f"SELECT * FROM {{schema}}.{self.table}"
            " WHERE model = ? AND prompt_version = ? AND input_hash IN (SELECT unnest(?))",
            [model, prompt_version, wanted],
        )

    def store(
        self,
        warehouse: Warehouse,
        answers: Sequence[Mapping[str, object]],
        *,
        model: str,
        prompt_version: str,
    ) -> int:
        """Upsert ``answers`` (each an ``input_hash`` and the answer columns); returns rows
        written."""
        if not answers:
            return 0
        frame = pd.DataFrame(
            [{**row, "model": model, "prompt_version": prompt_version} for row in answers],
            # The ignore: pandas' own Axes annotation rejects list[str], which pandas takes.
            columns=column_names(self.schema),  # pyright: ignore[reportArgumentType]
        )
        for column in self.schema.columns:
            if column.type == "TIMESTAMPTZ":
                frame[column.name] = pd.to_datetime(frame[column.name], utc=True)
        return warehouse.replace_rows(self.table, frame, key=list(CACHE_KEY), schema=self.schema)
