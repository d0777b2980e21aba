"""Production code does not depend on the demo: the demo plugs itself in."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import digest_pipeline
from digest_pipeline.defs.slack.resources import SOURCE_PLUGINS, SlackSource, source_plugin

PACKAGE = Path(digest_pipeline.__file__).parent
PRODUCTION = sorted(p for p in PACKAGE.rglob("*.py") if (PACKAGE / "demo") not in p.parents)


def _demo_imports(path: Path) -> list[str]:
    """Every import (at any depth, lazy ones included) or import-by-string of the demo."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
            if node.module == "digest_pipeline":
                names += [f"digest_pipeline.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names = [node.value] if node.value.startswith("digest_pipeline.demo") else []
        found += [
            f"{path.name}:{getattr(node, 'lineno', 0)}: {name}"
            for name in names
            if name == "digest_pipeline.demo" or name.startswith("digest_pipeline.demo.")
        ]
    return found


def _scan(paths: list[Path]) -> list[str]:
    """:func:`_demo_imports` of ``paths`` in a fresh interpreter: CPython 3.11.7's ``ast.parse``
    can fail with "AST constructor recursion depth mismatch" in a process whose recursion state
    an earlier test disturbed (fixed in 3.11.8)."""
    code = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from digest_pipeline_tests.demo.test_boundary import _demo_imports\n"
        "print(json.dumps([h for p in sys.argv[1:] for h in _demo_imports(Path(p))]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
        cwd=PACKAGE.parent,
    )
    return json.loads(done.stdout)


def test_the_scan_sees_production_modules_and_would_catch_a_lazy_import(tmp_path: Path) -> None:
    assert PACKAGE / "definitions.py" in PRODUCTION
    assert PACKAGE / "settings.py" in PRODUCTION
    assert PACKAGE / "defs" / "slack" / "resources.py" in PRODUCTION
    assert not any("demo" in p.relative_to(PACKAGE).parts for p in PRODUCTION)
    module = tmp_path / "lazy.py"
    module.write_text(
        "def f():\n    from digest_pipeline.demo.workspace import DemoWorkspace\n"
        "    from digest_pipeline import demo\n"
        "    return __import__('digest_pipeline.demo.content')\n"
    )
    assert len(_scan([module])) == 3


def test_no_production_module_imports_the_demo() -> None:
    assert _scan(PRODUCTION) == []


def test_loading_the_definitions_loads_no_demo_module() -> None:
    code = (
        "import sys; import digest_pipeline.definitions; "
        "print([m for m in sys.modules if m.startswith('digest_pipeline.demo')])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=600
    )
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_the_demo_kind_is_the_demo_workspace_found_through_its_entry_point() -> None:
    from digest_pipeline.demo.source import open_demo_api
    from digest_pipeline.demo.workspace import DemoWorkspace

    assert source_plugin("demo") is open_demo_api
    first = SlackSource(kind="demo", demo_seed=5, demo_scale=0.2).open_api()
    assert isinstance(first, DemoWorkspace)
    assert (first.seed, first.scale) == (5, 0.2)
    first.call("auth.test", {})
    again = SlackSource(kind="demo", demo_seed=5, demo_scale=0.2).open_api()
    # The same workspace (its generated hours are reused), with fresh per-run call counts.
    assert again is first
    assert sum(again.stats.calls.values()) == 0


def test_an_unregistered_kind_is_refused_by_name() -> None:
    import dagster as dg

    assert source_plugin("carrier-pigeon") is None
    with pytest.raises(dg.Failure, match="'carrier-pigeon' is not valid"):
        SlackSource(kind="carrier-pigeon").open_api()
    assert SOURCE_PLUGINS == "digest_pipeline.slack_sources"
