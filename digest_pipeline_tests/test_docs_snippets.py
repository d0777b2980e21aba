"""Every ```sql and ```python block of README.md and docs/*.md runs against a demo warehouse.

The warehouse is the end-to-end fixture's (the demo pipeline, the daily digest and the analyst
views), copied to a file named ``warehouse.duckdb`` as the default is, so that ``digest.<table>``
names the schema exactly as it does for a reader. SQL blocks run statement by statement through
duckdb; Python blocks run with ``exec`` after ``data/warehouse.duckdb`` is replaced by the copy.
A block preceded by ``<!-- not-run: reason -->`` is skipped, and must say why.
"""

import contextlib
import io
import re
import shutil
import textwrap
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
DOCUMENTED_PATH = "data/warehouse.duckdb"
RUN_LANGUAGES = ("sql", "python")

_FENCE = re.compile(r"^(\s*)```(\S*)\s*$")  # indented too: blocks inside list items
_NOT_RUN = re.compile(r"^<!--\s*not-run:(.*?)-->\s*$")


@dataclass(frozen=True)
class Snippet:
    document: str  # path relative to the repository
    line: int  # 1-based line of the opening fence
    language: str
    code: str
    not_run_reason: str | None  # None: runs; "" would be a marker without a reason

    @property
    def name(self) -> str:
        return f"{self.document}:{self.line}:{self.language}"


def extract_snippets(text: str, document: str) -> list[Snippet]:
    """The fenced blocks of a Markdown text, with the not-run marker of the line before each."""
    snippets: list[Snippet] = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        end = index + 1
        while end < len(lines) and lines[end].strip() != "```":
            end += 1
        if end == len(lines):
            raise AssertionError(f"{document}:{index + 1}: code block never closed")
        previous = next((line for line in reversed(lines[:index]) if line.strip()), "")
        marker = _NOT_RUN.match(previous.strip())
        snippets.append(
            Snippet(
                document=document,
                line=index + 1,
                language=opening.group(2).lower(),
                code=textwrap.dedent("\n".join(lines[index + 1 : end])) + "\n",
                not_run_reason=marker.group(1).strip() if marker else None,
            )
        )
        index = end + 1
    return snippets


def split_statements(sql: str) -> list[str]:
    """Statements end with ``;`` at the end of a line; comment-only pieces are dropped."""
    pieces = re.split(r";[ \t]*(?:\n|$)", sql)
    statements = []
    for piece in pieces:
        meaningful = [
            line
            for line in piece.splitlines()
            if line.strip() and not line.strip().startswith("--")
        ]
        if meaningful:
            statements.append(piece.strip())
    return statements


def _all_snippets() -> list[Snippet]:
    found: list[Snippet] = []
    for path in DOCUMENTS:
        found.extend(
            extract_snippets(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
        )
    return found


SNIPPETS = [s for s in _all_snippets() if s.language in RUN_LANGUAGES]
RUNNABLE = [s for s in SNIPPETS if s.not_run_reason is None]


@pytest.fixture(scope="session")
def demo_warehouse(duckdb_pipeline, tmp_path_factory) -> str:
    """A copy of the end-to-end demo warehouse, named like the default file."""
    path = tmp_path_factory.mktemp("docs") / "warehouse.duckdb"
    shutil.copyfile(duckdb_pipeline.location, path)
    wal = Path(duckdb_pipeline.location + ".wal")
    if wal.exists():
        shutil.copyfile(wal, str(path) + ".wal")
    return str(path)


# --- the extraction itself ------------------------------------------------------------------


def test_blocks_are_found_with_their_language_line_and_marker():
    text = (
        "intro\n\n```sql\nSELECT 1;\n```\n\n<!-- not-run: needs a Slack token -->\n\n"
        "```python\nprint(1)\n```\n\n```bash\nmake demo\n```\n"
        "\n1. In a list:\n\n   ```sql\n   SELECT 2;\n   ```\n"
    )
    snippets = extract_snippets(text, "x.md")
    assert [(s.line, s.language, s.not_run_reason) for s in snippets] == [
        (3, "sql", None),
        (9, "python", "needs a Slack token"),
        (13, "bash", None),
        (19, "sql", None),
    ]
    assert snippets[0].code == "SELECT 1;\n"
    assert snippets[-1].code == "SELECT 2;\n"


def test_statements_split_on_semicolons_at_line_ends_and_comments_alone_are_dropped():
    sql = "-- first\nSELECT 1;\n\n-- only a comment;\nSELECT ';' AS s\nFROM t;\n-- trailing\n"
    assert split_statements(sql) == ["-- first\nSELECT 1", "SELECT ';' AS s\nFROM t"]


def test_the_readme_and_docs_have_runnable_sql_and_python():
    documents = {s.document for s in RUNNABLE}
    languages = {(s.document, s.language) for s in RUNNABLE}
    assert ("README.md", "sql") in languages and ("README.md", "python") in languages
    assert "docs/querying.md" in documents


def test_every_block_not_run_says_why():
    vague = [
        s.name for s in SNIPPETS if s.not_run_reason is not None and len(s.not_run_reason) < 10
    ]
    assert not vague, f"give a reason not to run these: {vague}"


def test_no_document_uses_the_old_file_or_use_statement():
    for path in DOCUMENTS:
        text = path.read_text(encoding="utf-8")
        for stale in ("data/digest.duckdb", "USE digest.digest", "digest.digest."):
            assert stale not in text, f"{path.relative_to(ROOT)} still says {stale!r}"


# --- the blocks, against the demo warehouse -------------------------------------------------


@pytest.mark.parametrize(
    "snippet", [s for s in RUNNABLE if s.language == "sql"], ids=lambda s: s.name
)
def test_sql_block_runs(snippet, demo_warehouse):
    statements = split_statements(snippet.code)
    assert statements, f"{snippet.name}: no statement"
    with duckdb.connect(demo_warehouse, read_only=True) as con:
        for statement in statements:
            try:
                con.execute(statement).fetchall()
            except duckdb.Error as e:
                raise AssertionError(f"{snippet.name}: {e}\n{statement}") from e


@pytest.mark.parametrize(
    "snippet", [s for s in RUNNABLE if s.language == "python"], ids=lambda s: s.name
)
def test_python_block_runs(snippet, demo_warehouse):
    code = snippet.code.replace(DOCUMENTED_PATH, demo_warehouse)
    namespace: dict[str, object] = {"__name__": "__snippet__"}
    output = io.StringIO()
    try:
        with contextlib.redirect_stdout(output):
            exec(compile(code, snippet.name, "exec"), namespace)
    finally:
        for value in namespace.values():
            if isinstance(value, duckdb.DuckDBPyConnection):
                value.close()
    assert output.getvalue().strip(), f"{snippet.name}: printed nothing"
