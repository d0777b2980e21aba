"""``?`` placeholders become psycopg's: literals, identifiers, comments and lists handled."""

import pytest

from digest_pipeline.defs.storage.postgres_params import to_pyformat


@pytest.mark.parametrize(
    ("sql", "params", "expected"),
    [
        ("SELECT ? , ?", [1, 2], ("SELECT %s , %s", [1, 2])),
        ("SELECT '?', \"a?\" -- ?\n, ?", [1], ("SELECT '?', \"a?\" -- ?\n, %s", [1])),
        ("SELECT 'it''s ?', ?", [1], ("SELECT 'it''s ?', %s", [1])),
        ("SELECT E'\\' ?', ?", [1], ("SELECT E'\\' ?', %s", [1])),
        ("SELECT $$ ? $$, /* ? */ ?", [1], ("SELECT $$ ? $$, /* ? */ %s", [1])),
        ("SELECT x LIKE 'a%', 5 % ?", [2], ("SELECT x LIKE 'a%%', 5 %% %s", [2])),
        (
            "x IN (SELECT unnest(?))",
            [("a", "b")],
            ("x IN (SELECT unnest(CAST(%s AS text[])))", [["a", "b"]]),
        ),
        ("x = ANY(?)", [[1, 2]], ("x = ANY(CAST(%s AS bigint[]))", [[1, 2]])),
    ],
)
def test_question_marks_become_psycopg_placeholders(sql, params, expected):
    assert to_pyformat(sql, params) == expected


@pytest.mark.parametrize(("sql", "params"), [("SELECT ?", []), ("SELECT 1", [1])])
def test_placeholder_count_mismatches_are_errors(sql, params):
    with pytest.raises(ValueError, match="placeholders"):
        to_pyformat(sql, params)
