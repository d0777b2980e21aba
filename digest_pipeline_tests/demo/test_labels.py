"""The demo's labeled messages are its ground truth, regenerated exactly by the script."""

import json

from digest_pipeline.defs.risk.labels import packaged_label_files, read_label_file
from digest_pipeline.demo.labels import DEFAULT_OUT, demo_labels


def test_the_packaged_demo_labels_are_what_the_script_writes():
    expected = demo_labels()
    lines = DEFAULT_OUT.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == expected
    assert DEFAULT_OUT in {
        p for p in map(lambda f: DEFAULT_OUT.parent / f.name, packaged_label_files())
    }


def test_the_demo_labels_cover_every_level_and_parse():
    found = read_label_file(DEFAULT_OUT, source="demo")
    assert found.problem_count == 0
    assert {r.risk_level for r in found.rows} == {"low", "medium", "high", "critical"}
    # Harmless bot and routine posts are taught as low (an ERP receipt is not a logistics risk).
    receipts = [r for r in found.rows if r.text.startswith("Inbound receipt")]
    assert receipts and {r.risk_level for r in receipts} == {"low"}


def test_the_demo_remembers_the_first_day_it_ran_for_the_ui(tmp_path, monkeypatch):
    from digest_pipeline.demo.run import START_FILE, remember_start

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    remember_start("2026-12-03")
    remember_start("2026-12-05")  # a later run keeps the earliest day
    assert (tmp_path / START_FILE).read_text().strip() == "2026-12-03"
    remember_start("2026-11-20")
    assert (tmp_path / START_FILE).read_text().strip() == "2026-11-20"
