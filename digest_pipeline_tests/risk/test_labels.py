"""Labeled data: every source parses, every bad row is one named problem, never a crash."""

import json
from pathlib import Path

import pytest

from digest_pipeline.defs.risk import labels as labels_module
from digest_pipeline.defs.risk.labels import (
    LLM_WEIGHT,
    LabelSet,
    feedback_labels,
    llm_labels,
    load_packaged,
    merge,
    read_label_file,
)

GOOD = {"id": "t1", "text": "PMIC lead time now 52 weeks", "risk_level": "high"}


def _jsonl(path: Path, lines: list[object]) -> Path:
    path.write_text(
        "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n",
        encoding="utf-8",
    )
    return path


def test_every_bad_line_is_counted_and_named_and_the_good_ones_kept(tmp_path):
    path = _jsonl(
        tmp_path / "team.jsonl",
        [
            GOOD,
            "{not json",
            {"text": "no level"},
            {"text": "x", "risk_level": "severe"},
            {"text": "x", "risk_level": "low", "risk_category": "weather"},
            {"text": "x", "risk_level": "low", "requires_attention": "yes"},
            {"text": "", "risk_level": "low"},
            [1, 2],
            "",
            {"text": "thanks all", "risk_level": "low"},
        ],
    )
    found = read_label_file(path, source="team")
    assert [r.text for r in found.rows] == ["PMIC lead time now 52 weeks", "thanks all"]
    assert {r.source for r in found.rows} == {"team"}
    assert found.rows[1].id == "team:10"  # a row without an id is named by its line
    assert found.problem_count == 7
    where = [p.where for p in found.problems]
    assert where == [f"{path}:{n}" for n in (2, 3, 4, 5, 6, 7, 8)]
    reasons = " ".join(p.reason for p in found.problems)
    for expected in ("invalid JSON", "missing required key 'text'", "severe", "weather"):
        assert expected in reasons or expected.replace("'text'", "'risk_level'") in reasons


def test_a_csv_file_has_the_same_schema(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text(
        "id,text,channel,thread_context,risk_level,risk_category,requires_attention,tags\n"
        'c1,"Line 2 down, no output",manufacturing,,critical,manufacturing_quality,true,a;b\n'
        "c2,lunch?,random,,low,none,false,\n"
        "c3,bad level,random,,urgent,,,\n",
        encoding="utf-8",
    )
    found = read_label_file(path)
    assert [(r.id, r.risk_level, r.requires_attention) for r in found.rows] == [
        ("c1", "critical", True),
        ("c2", "low", False),
    ]
    assert found.rows[0].thread_context is None and found.rows[0].tags == ("a", "b")
    assert found.problem_count == 1 and found.problems[0].where.endswith(":4")


def test_unreadable_files_are_one_problem_each(tmp_path, monkeypatch):
    assert read_label_file(tmp_path / "missing.jsonl").problems[0].reason == "no such file"
    latin = tmp_path / "latin.jsonl"
    latin.write_bytes('{"text": "caf\xe9", "risk_level": "low"}\n'.encode("latin-1"))
    assert "not UTF-8" in read_label_file(latin).problems[0].reason
    monkeypatch.setattr(labels_module, "MAX_FILE_BYTES", 10)
    big = _jsonl(tmp_path / "big.jsonl", [GOOD])
    found = read_label_file(big)
    assert not found.rows and "not read" in found.problems[0].reason


def test_an_oversized_text_costs_its_line_only(tmp_path, monkeypatch):
    monkeypatch.setattr(labels_module, "MAX_TEXT_CHARS", 20)
    found = read_label_file(
        _jsonl(tmp_path / "t.jsonl", [GOOD, {"text": "ok", "risk_level": "low"}])
    )
    assert [r.text for r in found.rows] == ["ok"]
    assert "longer than 20" in found.problems[0].reason


def test_people_beat_the_llm_and_a_later_human_source_wins_a_duplicate():
    packaged = LabelSet(tuple(read_label_file_rows("packaged", "medium")))
    llm = llm_labels(
        [{"message_id": "C1:1", "text": "PMIC lead time now 52 weeks", "risk_level": "low"}]
    )
    team = LabelSet(tuple(read_label_file_rows("team", "critical")))
    merged = merge([packaged, llm, team])
    assert len(merged.rows) == 1
    assert (merged.rows[0].source, merged.rows[0].risk_level) == ("team", "critical")
    only_llm = merge([llm])
    assert only_llm.rows[0].weight == LLM_WEIGHT
    assert merge([packaged, llm]).rows[0].source == "packaged"  # the LLM never overrides a person


def read_label_file_rows(source: str, level: str):
    return labels_module.parse_content(
        json.dumps({"text": "PMIC  lead time now 52 weeks", "risk_level": level}),
        source,
        source=source,
    ).rows


def test_feedback_takes_each_messages_latest_verdict():
    found = feedback_labels(
        [
            {"message_id": "C1:1", "verdict": "high", "given_at": "2026-03-01", "text": "a"},
            {"message_id": "C1:1", "verdict": "not_a_risk", "given_at": "2026-03-02", "text": "a"},
            {"message_id": "C1:2", "verdict": "meh", "given_at": "2026-03-02", "text": "b"},
        ]
    )
    assert [(r.id, r.risk_level, r.source) for r in found.rows] == [("C1:1", "low", "feedback")]
    assert found.problem_count == 1 and "meh" in found.problems[0].reason


def test_the_packaged_corpora_parse_without_a_problem():
    found = load_packaged()
    assert found.problem_count == 0
    by_source = found.by_source()
    assert {"labeled", "part-a", "part-b"} <= set(by_source)
    assert by_source["part-a"] == by_source["part-b"] == 240
    assert len(by_source) >= 10 and sum(by_source.values()) >= 3000
    levels = {r.risk_level for r in found.rows}
    assert levels == {"low", "medium", "high", "critical"}


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_the_settings_take_a_labels_file(tmp_path, suffix):
    from digest_pipeline.settings import load_settings

    path = str(tmp_path / f"team{suffix}")
    assert (
        load_settings(
            {"DIGEST_LABELS_PATH": path, "DIGEST_DUCKDB_PATH": str(tmp_path / "w.duckdb")}
        ).labels_path
        == path
    )


def test_a_labels_file_of_another_format_fails_at_load(tmp_path):
    from digest_pipeline.settings import ConfigError, load_settings

    with pytest.raises(ConfigError, match="DIGEST_LABELS_PATH"):
        load_settings(
            {"DIGEST_LABELS_PATH": "labels.xlsx", "DIGEST_DUCKDB_PATH": str(tmp_path / "w.duckdb")}
        )


def test_reaction_verdicts_train_on_the_level_they_imply():
    found = feedback_labels(
        [
            # ⬆️ on a high line: trains as the critical stored with it.
            {"message_id": "C1:1", "verdict": "more_serious", "risk_level": "critical",
             "given_at": "2026-03-01", "text": "a"},
            # ✅ later says nothing of the level: the ❌ before it still counts.
            {"message_id": "C1:2", "verdict": "not_a_risk", "given_at": "2026-03-01", "text": "b"},
            {"message_id": "C1:2", "verdict": "resolved", "given_at": "2026-03-02", "text": "b"},
            {"message_id": "C1:3", "verdict": "resolved", "given_at": "2026-03-02", "text": "c"},
            {"message_id": "C1:4", "verdict": "more_serious", "given_at": "2026-03", "text": "d"},
        ]
    )  # fmt: skip
    assert [(r.id, r.risk_level) for r in found.rows] == [("C1:1", "critical"), ("C1:2", "low")]
    assert found.problem_count == 1 and "more_serious without a level" in found.problems[0].reason
