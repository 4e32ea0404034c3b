"""The code's shape: every module imports on its own, no import runs upward or in a cycle, and
stages only wire (no stage imports another, except `run`, which runs them all)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from helpers.imports import LAYERS, imports, layer, modules

MODULES = modules()

# Imported once in the parent so that each forked child starts with them loaded but with no
# churnml module yet: a fresh interpreter as far as churnml's own import order goes.
_FORK_EACH = r"""
import json, os, sys, traceback
import numpy, pandas, pyarrow, sklearn, scipy, lightgbm, matplotlib, omegaconf, hydra, mlflow, openpyxl, jinja2, rich
failed = {}
for name in sys.argv[1:]:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            __import__(name)
            os._exit(0)
        except BaseException:
            os.write(write, traceback.format_exc().encode()[-2000:])
            os._exit(1)
    os.close(write)
    message = os.read(read, 4000).decode()
    os.close(read)
    _, status = os.waitpid(pid, 0)
    if status:
        failed[name] = message
print(json.dumps(failed))
"""


def test_every_module_imports_on_its_own_in_a_fresh_interpreter():
    if not hasattr(__import__("os"), "fork"):
        pytest.skip("needs os.fork")
    done = subprocess.run(
        [sys.executable, "-c", _FORK_EACH, *MODULES], capture_output=True, text=True, timeout=300, check=True
    )
    failed = json.loads(done.stdout.strip().splitlines()[-1])
    assert failed == {}, "\n\n".join(f"{name}:\n{why}" for name, why in failed.items())


def test_no_import_runs_upward():
    upward = [
        f"{name} (layer {layer(name)}) imports {dep} (layer {layer(dep)})"
        for name, path in MODULES.items()
        for dep in sorted(imports(name, path))
        if layer(dep) > layer(name)
    ]
    assert upward == [], "\n".join(upward)


def test_no_import_cycle_at_module_level():
    # With the packages an import runs first: `import churnml.features.orders` runs
    # churnml/features/__init__.py, which can close a cycle.
    graph = {name: imports(name, path, top_level_only=True, packages=True) for name, path in MODULES.items()}
    cycles, state = [], {}

    def visit(name: str, path: list[str]) -> None:
        state[name] = "open"
        for dep in sorted(graph[name]):
            if state.get(dep) == "open":
                cycles.append(" -> ".join([*path[path.index(dep):], dep]))
            elif dep not in state:
                visit(dep, [*path, dep])
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == [], "\n".join(cycles)


def test_stages_import_no_other_stage_except_run():
    stages = {n for n in MODULES if n.startswith("churnml.stages.")}
    crossing = [
        f"{name} imports {dep}"
        for name in sorted(stages - {"churnml.stages.run"})
        for dep in sorted(imports(name, MODULES[name]))
        if dep in stages
    ]
    assert crossing == [], "\n".join(crossing)


def test_every_module_has_a_layer():
    for name in MODULES:
        assert 0 <= layer(name) < len(LAYERS)


# The registered models are MLflow pyfunc models: their classes subclass mlflow's PythonModel.
MLFLOW_MODULES = ("churnml.tracking", "churnml.models.pyfunc")


def test_only_the_tracking_package_imports_mlflow_only_cli_imports_hydra_only_the_spark_engine_pyspark():
    import ast

    offenders = []
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            for imported in names:
                root = imported.split(".")[0]
                if root == "mlflow" and not name.startswith(MLFLOW_MODULES):
                    offenders.append(f"{name} imports {imported}")
                if root == "hydra" and name != "churnml.cli":
                    offenders.append(f"{name} imports {imported}")
                if root == "pyspark" and name != "churnml.spark_engine":
                    offenders.append(f"{name} imports {imported}")
    assert offenders == [], "\n".join(offenders)
