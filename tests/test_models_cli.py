"""`churnml train`, `evaluate` and `tune` through the CLI from an empty root (the synthetic world is
generated on the way), with the real MLflow registry in a tmp dir."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from churnml.cli import main

pytestmark = pytest.mark.slow

TODAY = "2026-11-27"
SMALL = ["data.accounts=300", "data.months=36", "model.num_threads=1"]


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("models_cli")
    assert main(["train", f"paths.root={root}", f"today={TODAY}", *SMALL]) == 0
    assert main(["evaluate", f"paths.root={root}", f"today={TODAY}", *SMALL, "model.backtest_folds=2"]) == 0
    return root


def client(root: Path):
    from mlflow import MlflowClient

    return MlflowClient(f"sqlite:///{root}/mlflow.db")


def test_train_then_evaluate_from_a_fresh_root(root):
    c = client(root)
    experiment = c.get_experiment_by_name("churnml")
    assert experiment.artifact_location == (root / "mlartifacts").as_uri()
    runs = {r.data.tags["churnml.stage"]: r for r in c.search_runs([experiment.experiment_id])}
    assert set(runs) == {"train", "evaluate"}
    train, evaluate = runs["train"], runs["evaluate"]
    assert train.info.status == evaluate.info.status == "FINISHED"
    assert train.data.params["labels.horizon_months"] == "6"
    for key in ("oot/auc", "oracle/oot/auc", "oot/auc_vs_oracle", "baseline_rule/oot/auc"):
        assert key in train.data.metrics
    assert not any(k.startswith("targets/") for k in train.data.metrics)  # benchmark targets live in bench/
    assert {"backtest/auc_mean", "backtest/auc_std", "baseline_rfm/backtest/auc_mean"} <= set(evaluate.data.metrics)
    train_artifacts = {a.path for a in c.list_artifacts(train.info.run_id)}
    assert {"plots", "hydra", "data"} <= train_artifacts
    features = c.download_artifacts(train.info.run_id, "data/features.csv", str(root))
    assert "description" in Path(features).read_text().splitlines()[0]
    for name in ("churnml-churn", "churnml-switching"):
        assert c.get_model_version_by_alias(name, "champion").run_id == train.info.run_id
    champion = json.loads((root / "models" / "champion.json").read_text())
    assert champion["run_id"] == train.info.run_id


def test_an_extract_shorter_than_the_horizon_exits_2_with_a_clear_message(tmp_path, capfd):
    # Six months of data and a six-month label window: no snapshot can be labelled.
    code = main(["train", f"paths.root={tmp_path}", f"today={TODAY}", "data.accounts=100", "data.months=6"])
    assert code == 2
    captured = capfd.readouterr()
    assert "No labelled snapshot to train on" in captured.out + captured.err
    assert not (tmp_path / "models" / "champion.json").exists()


def test_tune_writes_an_experiment_that_train_uses(root):
    args = [f"paths.root={root}", f"today={TODAY}", *SMALL]
    assert main(["tune", *args, "tune.n_trials=2", "tune.output_experiment=tuned_cli"]) == 0
    tuned = root / "conf" / "experiment" / "tuned_cli.yaml"
    assert tuned.is_file()
    search = f"hydra.searchpath=[file://{root}/conf]"
    assert main(["train", *args, "experiment=tuned_cli", search]) == 0
    c = client(root)
    latest = c.search_runs(
        [c.get_experiment_by_name("churnml").experiment_id], "tags.`churnml.stage` = 'train'", max_results=1
    )[0]
    from omegaconf import OmegaConf

    expected = OmegaConf.load(tuned).model.churn
    assert latest.data.params["model.churn.num_leaves"] == str(expected.num_leaves)
