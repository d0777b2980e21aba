"""The package's layers, held against its imports: each layer imports only layers below it.

From the bottom: the table contract and its enumerations (pure data), the vocabulary, storage and
partitions, then the domains in the order data flows through them (Slack → enrichment → the shared
LLM package → risk → digests and analyst views), the pipeline layer (jobs, schedules, sensors that
span domains), the root definitions and, on top, the demo. ``settings`` (the configuration
contract) is read by every layer's ``definitions.py`` and itself calls only the pure validators of
Slack IDs and database URLs, so it stands outside the order.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import digest_pipeline

PACKAGE = Path(digest_pipeline.__file__).parent

LAYERS: dict[str, int] = {
    "contract": 0,
    "vocabulary": 1,
    "defs.storage": 2,
    "defs.partitions": 2,
    "defs.slack": 3,
    "defs.enrichment": 4,
    "defs.llm": 5,
    "defs.risk": 6,
    "defs.analytics": 7,
    "defs.digest": 7,
    "defs.pipeline": 8,
    "definitions": 9,
    "demo": 10,
}
OUTSIDE = {"settings", "defs"}  # the configuration contract; defs/__init__.py only documents

# Run in a fresh interpreter: CPython 3.11.7's ast.parse can fail in a process whose recursion
# state an earlier test disturbed (see demo/test_boundary.py).
_SCAN = """
import ast, json, sys
from pathlib import Path
root = Path(sys.argv[1])
edges = []
for path in sorted(root.rglob("*.py")):
    own = ".".join(path.relative_to(root).with_suffix("").parts)
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
            if node.module == "digest_pipeline":
                names = [f"digest_pipeline.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        for name in names:
            if name.startswith("digest_pipeline."):
                edges.append([own, name.removeprefix("digest_pipeline."), node.lineno])
print(json.dumps(edges))
"""


def _layer(module: str) -> str:
    parts = module.split(".")
    if parts[0] == "defs" and len(parts) > 1 and parts[1] != "__init__":
        return f"defs.{parts[1]}"
    return parts[0]


def _imports() -> list[tuple[str, str, int]]:
    done = subprocess.run(
        [sys.executable, "-c", _SCAN, str(PACKAGE)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return [tuple(edge) for edge in json.loads(done.stdout)]


def test_every_module_belongs_to_a_layer() -> None:
    paths = PACKAGE.rglob("*.py")
    modules = {_layer(".".join(p.relative_to(PACKAGE).with_suffix("").parts)) for p in paths}
    assert modules - {"__init__"} <= set(LAYERS) | OUTSIDE


def test_each_layer_imports_only_layers_below_it() -> None:
    edges = _imports()
    assert len(edges) > 300  # the scan sees the package's imports
    upward = [
        f"{own}:{line} imports {target}"
        for own, target, line in edges
        if _layer(own) in LAYERS
        and _layer(target) in LAYERS
        and _layer(own) != _layer(target)
        and LAYERS[_layer(target)] >= LAYERS[_layer(own)]
    ]
    assert upward == []


def test_settings_calls_only_validators_of_the_layers() -> None:
    edges = [target for own, target, _ in _imports() if own == "settings"]
    assert set(map(_layer, edges)) <= {"contract", "defs.storage", "defs.slack"}
