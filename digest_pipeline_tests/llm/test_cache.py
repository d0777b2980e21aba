"""The response cache: answers keyed by (input hash, model, prompt version), in a real DuckDB."""

import json
from datetime import UTC, datetime

import pytest

from digest_pipeline.contract import Column, Table
from digest_pipeline.defs.llm.cache import CACHE_KEY, ResponseCache
from digest_pipeline.defs.storage.side_table import SideTable
from digest_pipeline.defs.storage.warehouse import Warehouse

KEY_COLUMNS = (
    Column("input_hash", "VARCHAR", "sha256 of what was sent (key)"),
    Column("model", "VARCHAR", "LLM model (key)"),
    Column("prompt_version", "VARCHAR", "Prompt version (key)"),
)
ANSWER_COLUMNS = (
    Column("answer", "JSON", "The accepted answer"),
    Column("answered_at", "TIMESTAMPTZ", "When"),
)
CACHE = ResponseCache(
    SideTable(
        Table("test_answer_cache", "side", "answers", CACHE_KEY, KEY_COLUMNS + ANSWER_COLUMNS)
    )
)


def test_a_cache_table_must_be_keyed_by_input_model_and_prompt():
    table = Table("bad_cache", "side", "answers", ("input_hash",), KEY_COLUMNS + ANSWER_COLUMNS)
    with pytest.raises(ValueError, match="bad_cache"):
        ResponseCache(SideTable(table))


def _answer(key: str, text: str) -> dict[str, object]:
    return {
        "input_hash": key,
        "answer": json.dumps({"text": text}),
        "answered_at": datetime.now(UTC),
    }


def test_nothing_is_cached_before_the_first_answer(duckdb_path):
    warehouse = Warehouse(duckdb_path=duckdb_path)
    found = CACHE.lookup(warehouse, ["h1"], model="m", prompt_version="v1")
    assert found.empty and list(found.columns)[:3] == ["input_hash", "model", "prompt_version"]
    assert CACHE.store(warehouse, [], model="m", prompt_version="v1") == 0
    assert not warehouse.table_exists(CACHE.table)


def test_an_answer_is_found_only_for_its_input_model_and_prompt(duckdb_path):
    warehouse = Warehouse(duckdb_path=duckdb_path)
    CACHE.store(warehouse, [_answer("h1", "a"), _answer("h2", "b")], model="m", prompt_version="v1")
    found = CACHE.lookup(warehouse, ["h1", "h2", "h3", "h1"], model="m", prompt_version="v1")
    assert sorted(found["input_hash"]) == ["h1", "h2"]
    assert CACHE.lookup(warehouse, ["h1"], model="other", prompt_version="v1").empty
    assert CACHE.lookup(warehouse, ["h1"], model="m", prompt_version="v2").empty


def test_storing_the_same_key_again_replaces_the_answer(duckdb_path):
    warehouse = Warehouse(duckdb_path=duckdb_path)
    CACHE.store(warehouse, [_answer("h1", "old")], model="m", prompt_version="v1")
    CACHE.store(warehouse, [_answer("h1", "new")], model="m", prompt_version="v1")
    rows = warehouse.query(f"SELECT * FROM {{schema}}.{CACHE.table}")
    assert len(rows) == 1
    answer = rows["answer"].iloc[0]
    assert (json.loads(answer) if isinstance(answer, str) else answer) == {"text": "new"}
