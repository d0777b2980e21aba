"""The response cache: a warehouse table of the model's answers, one row per (input hash, model,
prompt version).

The input hash covers exactly what the model is sent, so the same input to the same model and
prompt is never asked twice: re-running a partition or a backfill costs no call for what did not
change. Only answers that were accepted are stored; a failure is asked again on the next run.
Each user declares its own table (its answer columns) in the contract, keyed by
:data:`CACHE_KEY`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from digest_pipeline.defs.storage.side_table import SideTable
from digest_pipeline.defs.storage.warehouse import Warehouse

CACHE_KEY = ("input_hash", "model", "prompt_version")


@dataclass(frozen=True)
class ResponseCache:
    """One cache table of the contract (a side table whose key is :data:`CACHE_KEY`)."""

    side: SideTable

    def __post_init__(self) -> None:
        if self.side.key != CACHE_KEY or self.side.columns[:3] != list(CACHE_KEY):
            raise ValueError(f"{self.side.name}: a response cache starts with its key {CACHE_KEY}")

    @classmethod
    def declared(cls, name: str) -> ResponseCache:
        return cls(SideTable.declared(name))

    @property
    def table(self) -> str:
        return self.side.name

    def lookup(
        self, warehouse: Warehouse, hashes: Sequence[str], *, model: str, prompt_version: str
    ) -> pd.DataFrame:
        """The rows cached for ``hashes`` (none before the table's first answer)."""
        where = {"model": model, "prompt_version": prompt_version, "input_hash": set(hashes)}
        return self.side.read(warehouse, where)

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
        frame = self.side.frame(
            [{**row, "model": model, "prompt_version": prompt_version} for row in answers]
        )
        for column in self.side.table.columns:
            if column.type == "TIMESTAMPTZ":
                frame[column.name] = pd.to_datetime(frame[column.name], utc=True)
        return self.side.upsert(warehouse, frame)
