"""churnml's own import graph, read from the source with `ast` (nothing is imported)."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"


def modules() -> dict[str, Path]:
    """Every module of churnml by dotted name (a package by its own name)."""
    out = {}
    for path in sorted((SRC / "churnml").rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def imports(name: str, path: Path, top_level_only: bool = False, packages: bool = False) -> set[str]:
    """The churnml modules `name` imports (at the top of the file only, or anywhere), and with
    `packages` the packages that importing them runs first (their `__init__`)."""
    known = modules()
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                full = f"{target}.{alias.name}"
                found.add(full if full in known else target)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    # Importing a.b.c first runs the packages a and a.b (their __init__), unless name is inside them.
    own = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)}
    if packages:
        found |= {".".join(m.split(".")[:i]) for m in set(found) for i in range(1, m.count(".") + 1)}
    return {m for m in found if m in known and m != name and m not in own}


# Lowest first: a module may import its own layer and the layers below it, never above.
LAYERS = [
    ["churnml", "churnml.errors", "churnml.constraints", "churnml.progress", "churnml.months",
     "churnml.parallel", "churnml.data.world_params"],
    ["churnml.config"],
    ["churnml.data", "churnml.io"],
    ["churnml.features"],
    ["churnml.models", "churnml.evaluate"],
    ["churnml.scoring", "churnml.report", "churnml.plots", "churnml.explore", "churnml.review", "churnml.console",
     "churnml.world_figures"],
    ["churnml.tracking"],
    ["churnml.catalog", "churnml.spark_engine"],
    ["churnml.stages", "churnml.cli"],
]


def layer(name: str) -> int:
    """The layer of a module: that of the longest prefix named in `LAYERS`."""
    best, found = -1, None
    for i, names in enumerate(LAYERS):
        for prefix in names:
            if (name == prefix or name.startswith(prefix + ".")) and len(prefix) > best:
                best, found = len(prefix), i
    if found is None:
        raise KeyError(f"{name} is in no layer of tests/helpers/imports.py")
    return found
