"""The notebooks in notebooks/ run top to bottom (nbclient) on a small project built with
churnml's own commands in a tmp dir, and are stored without outputs.

The notebooks read `CHURNML_NOTEBOOK_OVERRIDES` (Hydra overrides) so that they can be pointed at
the tmp project; otherwise they use the default configuration, as after `make run`.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from nbclient import NotebookClient

from churnml import cli
from churnml.errors import ConfigError

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
EXPLORE = NOTEBOOKS / "1.0-explore-key-accounts.ipynb"
REVIEW = NOTEBOOKS / "2.0-model-review.ipynb"
SMALL = ["data.accounts=300", "data.months=36"]
# Personal details planted in the tmp project's contacts table: no notebook output may show them.
PERSONAL = {"full_name": "Zoltan Q. Testperson", "email": "zoltan.testperson@example.invalid", "phone": "+99 555 0199"}
# Appended to the executed copy only: which interpreter runs the kernel.
PROBE = "import sys; print('kernel python:', sys.executable)"


def _execute(path: Path, root: Path, monkeypatch) -> nbformat.NotebookNode:
    """Run the notebook at `path` against the project at `root`; return the executed copy."""
    monkeypatch.setenv("CHURNML_NOTEBOOK_OVERRIDES", f"paths.root={root}")
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(PROBE))
    client = NotebookClient(nb, kernel_name="python3", timeout=300, resources={"metadata": {"path": str(root)}})
    client.execute()
    return nb


def _text(nb: nbformat.NotebookNode) -> str:
    """Every text output of an executed notebook (streams, plain text, HTML)."""
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            parts.append(out.get("text", ""))
            data = out.get("data", {})
            parts.extend(str(data.get(kind, "")) for kind in ("text/plain", "text/html"))
    return "\n".join(parts)


def _images(nb: nbformat.NotebookNode) -> int:
    return sum("image/png" in out.get("data", {}) for cell in nb.cells for out in cell.get("outputs", []))


def _check_common(nb: nbformat.NotebookNode, root: Path) -> str:
    text = _text(nb)
    # The overrides reached the kernel: the notebook read the tmp project, not the repository's.
    assert f"paths.root:      {root}" in text
    assert f"kernel python: {sys.executable}" in text
    assert not any(out.get("output_type") == "error" for cell in nb.cells for out in cell.get("outputs", []))
    return text


@pytest.fixture(scope="module")
def data_project(tmp_path_factory) -> Path:
    """A tmp project holding the small synthetic world only (what notebook 1 needs), with
    personal details planted in the contacts table (the loader must drop them)."""
    root = tmp_path_factory.mktemp("nb_data")
    assert cli.main(["generate", f"paths.root={root}", *SMALL]) == 0
    contacts = root / "data" / "raw" / "contacts.parquet"
    frame = pd.read_parquet(contacts)
    pd.concat([frame, pd.DataFrame(PERSONAL, index=frame.index)], axis=1).to_parquet(contacts, index=False)
    return root


@pytest.fixture(scope="module")
def trained_project(tmp_path_factory) -> Path:
    """A tmp project after `churnml run` on the small world: data, a champion, a scored list."""
    root = tmp_path_factory.mktemp("nb_run")
    assert cli.main(["run", f"paths.root={root}", *SMALL]) == 0
    return root


# ----------------------------------------------------------------------------------------------
# Stored notebooks
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [EXPLORE, REVIEW], ids=lambda p: p.name)
def test_stored_notebooks_have_no_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, "a notebook without code"
    for cell in code:
        assert cell.outputs == [], f"stored outputs in cell {cell.get('id')}"
        assert cell.execution_count is None, f"stored execution count in cell {cell.get('id')}"
    # They call churnml rather than copying it; the config comes from the compose helper.
    source = "\n".join(c.source for c in code)
    assert "compose_config(overrides)" in source and "CHURNML_NOTEBOOK_OVERRIDES" in source


def test_every_notebook_is_tested():
    assert sorted(NOTEBOOKS.glob("*.ipynb")) == sorted([EXPLORE, REVIEW])


# ----------------------------------------------------------------------------------------------
# The compose helper the notebooks use
# ----------------------------------------------------------------------------------------------


def test_compose_config_applies_overrides(tmp_path):
    config = cli.compose_config([f"paths.root={tmp_path}", "labels.horizon_months=3", "experiment=small"])
    assert config.paths.raw == f"{tmp_path}/data/raw"
    assert config.mlflow.tracking_uri == f"sqlite:///{tmp_path}/mlflow.db"
    assert config.labels.horizon_months == 3
    assert config.data.accounts == 400  # from conf/experiment/small.yaml
    default = cli.compose_config([])
    assert default.paths.root == str(cli.project_root())
    assert default.data.accounts == 2000


@pytest.mark.parametrize(
    "override, words",
    [("nosuch.key=1", "nosuch"), ("data.accounts=many", "many"), ("data=nowhere", "data/nowhere")],
)
def test_compose_config_bad_override_is_a_config_error(override, words):
    with pytest.raises(ConfigError, match=re.escape(words)) as err:
        cli.compose_config([override])
    assert override in str(err.value)


# ----------------------------------------------------------------------------------------------
# Execution
# ----------------------------------------------------------------------------------------------


def test_explore_notebook_runs_on_the_data(data_project, monkeypatch):
    nb = _execute(EXPLORE, data_project, monkeypatch)
    text = _check_common(nb, data_project)
    assert re.search(r"the top 20 % hold \d+% of net revenue", text)
    # Pareto curve, churn over time, rates by group, drivers, four label examples.
    assert _images(nb) >= 8
    for value in PERSONAL.values():
        assert value not in text


@pytest.mark.slow
def test_review_notebook_runs_on_the_champion(trained_project, monkeypatch):
    nb = _execute(REVIEW, trained_project, monkeypatch)
    text = _check_common(nb, trained_project)
    assert "churnml-churn version 1" in text
    # The held-out test scored again equals the figures stored with the champion.
    found = re.search(r"largest difference to the stored figures: (\S+)", text)
    assert found and float(found.group(1)) < 1e-9
    # ROC, gains, calibration, importance, SHAP, the account's story, switching curves.
    assert _images(nb) >= 7


@pytest.fixture(scope="module")
def default_project(tmp_path_factory) -> Path:
    """A tmp project after `churnml run` with every default: the world `make run` creates."""
    root = tmp_path_factory.mktemp("nb_default")
    assert cli.main(["run", f"paths.root={root}"]) == 0
    return root


@pytest.mark.slow
@pytest.mark.parametrize("path", [EXPLORE, REVIEW], ids=lambda p: p.name)
def test_both_notebooks_run_on_the_default_world(default_project, path, monkeypatch):
    nb = _execute(path, default_project, monkeypatch)
    _check_common(nb, default_project)
    assert _images(nb) >= 7
