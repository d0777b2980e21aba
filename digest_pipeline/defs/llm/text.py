"""What leaves the pipeline for the model: mentions as user IDs, PII and secrets redacted; and
the hash that keys a cached answer to exactly that text."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import pandas as pd

from digest_pipeline.defs.enrichment.redaction import redact
from digest_pipeline.defs.slack.people import PeopleDirectory
from digest_pipeline.defs.storage.warehouse import Warehouse


def pseudonymize(text: str, names_to_ids: Sequence[tuple[str, str]]) -> str:
    """Replace ``@Display Name`` mentions with ``@U…`` IDs (longest names first)."""
    if "@" not in text:
        return text
    for name, user_id in names_to_ids:
        if f"@{name}" in text:
            text = text.replace(f"@{name}", f"@{user_id}")
    return text


def prepare_text(text: str, names_to_ids: Sequence[tuple[str, str]] = ()) -> str:
    """What leaves the pipeline: mentions as user IDs, PII and secrets redacted."""
    return redact(pseudonymize(text or "", names_to_ids))


def input_hash(text: str, channel: str | None, parent_text: str | None) -> str:
    """The cache key of what the model sees for one message (prompt-independent)."""
    digest = hashlib.sha256()
    for part in (text, channel or "", parent_text or ""):
        digest.update(part.encode("utf-8"))
        digest.update(b"\x00")
    return digest.hexdigest()


def names_to_ids(users: pd.DataFrame) -> list[tuple[str, str]]:
    """(shown name, user ID) pairs of ``slack_users``, longest name first, to send mentions as
    IDs."""
    return list(PeopleDirectory.from_users(users).names_to_ids)


def user_names(warehouse: Warehouse | None) -> list[tuple[str, str]]:
    """:func:`names_to_ids` of the warehouse's ``slack_users`` (none before the first run)."""
    if warehouse is None or not warehouse.table_exists("slack_users"):
        return []
    return names_to_ids(warehouse.query("SELECT * FROM {schema}.slack_users"))
