import re
import tomllib
from pathlib import Path

import pytest

from digest_pipeline import vocabulary
from digest_pipeline.defs.enrichment import lexicon
from digest_pipeline.defs.risk import signals

PACKAGE = Path(vocabulary.__file__).parent
ROOT = PACKAGE.parents[1]


def test_every_data_file_loads_and_ships_as_package_data():
    names = sorted(p.stem for p in PACKAGE.glob("*.toml"))
    assert names == ["impact", "lexicon", "risk_rules", "shape", "slack"]
    for name in names:
        assert vocabulary.load(name)
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    globs = pyproject["tool"]["setuptools"]["package-data"]["digest_pipeline.vocabulary"]
    shipped = {p.name for glob in globs for p in PACKAGE.glob(glob)}
    assert shipped == {p.name for p in PACKAGE.glob("*.toml")}


def test_a_pattern_is_its_lines_joined_with_fragments_filled():
    assert vocabulary.pattern("\\bfoo\n|bar{X}\n", {"X": "(?:s)?"}) == "\\bfoo|bar(?:s)?"


def test_every_signal_compiles_with_a_known_level_and_category():
    specs = vocabulary.rule_signals()
    assert len({s.name for s in specs}) == len(specs)
    for spec in specs:
        assert "\n" not in spec.pattern and "{WEEKS}" not in spec.pattern, spec.name
        re.compile(spec.pattern)
        assert spec.level in (None, 0, 1, 2, 3)
    assert signals.SIGNALS == specs


def test_a_wrong_level_or_category_names_the_signal():
    fragments = {"WEEKS": "w"}
    with pytest.raises(ValueError, match="signal 'x': unknown level 'severe'"):
        vocabulary._signal({"name": "x", "label": "X", "pattern": "x", "level": "severe"}, {})
    with pytest.raises(ValueError, match="signal 'y': unknown category 'weather'"):
        vocabulary._signal(
            {"name": "y", "label": "Y", "pattern": "y", "category": "weather"}, fragments
        )


def test_a_missing_list_is_a_named_error():
    with pytest.raises(ValueError, match=r"slack.toml: subtypes.nope is missing"):
        vocabulary.words("slack", "subtypes.nope")


def test_each_concept_has_one_home():
    # The scanners' word lists and the regex readers' patterns come from the same file.
    assert lexicon.NEGATIONS == vocabulary.word_set("slack", "negation.words")
    assert lexicon.RESOLVED == vocabulary.words("slack", "resolution.phrases")
    assert signals.RESOLVED.pattern == vocabulary.text("slack", "resolution.pattern")
    assert signals.NEGATED.pattern == vocabulary.text("slack", "negation.before_signal")
    assert vocabulary.BROADCAST_MENTIONS == {"here", "channel", "everyone"}
    assert "channel_join" in vocabulary.SKIPPED_SUBTYPES
    assert vocabulary.SKIPPED_SUBTYPES.isdisjoint(vocabulary.KEPT_SUBTYPES)


def test_the_lexicon_keeps_its_shapes():
    strong, weak = lexicon.CATEGORY_WORDS["supply_chain"]
    assert "shortage/shortages" in strong and "supply" in weak
    assert lexicon.SUPPLIERS["Texas Instruments"] == ("Texas Instruments", "TI")
    assert lexicon.CERTIFICATIONS["UN38.3"] == ("UN38.3", "UN 38.3")
    assert lexicon.DOMAIN_VALENCE["fire drill"] == 0.0
    assert "line down" in lexicon.expand("line/lines down")
