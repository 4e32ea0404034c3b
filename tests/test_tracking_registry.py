"""Tracking, registry, champion gate and export against a real SQLite MLflow store in a tmp dir.

One store for the module (MLflow's first migration is slow); the tests run in file order and
build on each other: a first model, a worse one, a run that fails.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from churnml import tracking
from churnml.config import Config, MlflowConfig, ModelConfig, PathsConfig
from churnml.errors import NoModelError
from churnml.models.training import ModelInputs, train_models
from churnml.stages.train import publish
from helpers.churn_frames import FEATURES, feature_frame


def _inputs(frame, offers, cost, features=FEATURES) -> ModelInputs:
    dictionary = pd.DataFrame(
        {"name": features, "family": "orders", "description": "test feature", "unit": "", "kind": "numeric"}
    )
    return ModelInputs(frame, list(features), offers, 6, dictionary, None, cost)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("store")
    config = Config(
        paths=PathsConfig(root=str(root), models=str(root / "models")),
        model=ModelConfig(num_threads=1),
        mlflow=MlflowConfig(
            tracking_uri=f"sqlite:///{root}/mlflow.db", artifact_location=str(root / "mlartifacts")
        ),
    )
    frame, offers, cost = feature_frame(n_accounts=300, n_snapshots=30, seed=3)
    hydra = root / "run"
    (hydra / ".hydra").mkdir(parents=True)
    (hydra / ".hydra" / "config.yaml").write_text("model:\n  seed: 42\n")
    return config, frame, offers, cost, hydra


@pytest.fixture(scope="module")
def first(store):
    config, frame, offers, cost, hydra = store
    result = train_models(frame, FEATURES, config.model, 6, offers, None, cost)
    published = publish(result, _inputs(frame, offers, cost), config, {"model.seed": 42}, hydra)
    return result, published


def test_first_model_is_champion_tracked_and_exported(store, first):
    config, frame, _, _, _ = store
    result, published = first
    assert published.alias == "champion" and published.gate.method == "first model"
    assert tracking.alias_version("churnml-churn", "champion") == published.churn_version
    assert tracking.alias_version("churnml-switching", "champion") == published.switching_version

    from mlflow import MlflowClient

    client = MlflowClient(config.mlflow.tracking_uri)
    run = client.get_run(published.run_id)
    assert run.data.params["model.seed"] == "42"
    assert run.data.params["plan.test"].count(",") == 2
    assert run.data.params["plan.kind"] == "oot" and run.data.tags["evaluation.plan"] == "oot"
    assert run.data.metrics["oot/auc"] == pytest.approx(result.metrics["oot/auc"])
    assert "baseline_rfm/oot/auc" in run.data.metrics
    assert run.info.artifact_uri.startswith("file:///"), "absolute artifact location"
    artifacts = {a.path for a in client.list_artifacts(published.run_id, "plots")}
    assert {"plots/roc.png", "plots/calibration.png", "plots/shap_summary.png"} <= artifacts
    assert {a.path for a in client.list_artifacts(published.run_id, "hydra")} == {"hydra/config.yaml"}

    # The export loads without the tracking server and predicts exactly what was trained.
    models = Path(config.paths.models)
    champion = json.loads((models / "champion.json").read_text())
    assert champion["churn_version"] == published.churn_version
    exported = tracking.load_churn_model(str(models / "churn"))
    sample = frame.tail(200)
    np.testing.assert_array_equal(exported.predict_proba(sample), result.final.predict_proba(sample))
    registered = tracking.load_churn_model("models:/churnml-churn@champion", config.mlflow.tracking_uri)
    np.testing.assert_array_equal(registered.predict_proba(sample), exported.predict_proba(sample))
    assert exported.metrics["oot/auc"] == pytest.approx(result.metrics["oot/auc"])
    # The model that scores has seen every labelled snapshot, the newest included; the model it
    # carries for the champion gate is the first origin's, which never saw a held-out row.
    rows = result.rows
    assert max(exported.fit.fitted_snapshots) == rows["snapshot"].max()
    assert exported.info["fitted_to"] == rows["snapshot"].max().strftime("%Y-%m")
    assert exported.evaluation.label_end <= min(result.plan.test)
    first_test = frame.merge(result.evaluation.scores.query("snapshot == @result.plan.test[0]")[["account_id", "snapshot"]],
                             on=["account_id", "snapshot"])
    first_scores = result.evaluation.scores.query("snapshot == @result.plan.test[0]")["model"].to_numpy()
    np.testing.assert_array_equal(exported.evaluation.predict_proba(first_test), first_scores)
    switching = tracking.load_switching_model(str(models / "switching"))
    assert switching.switching_cost(sample).notna().all()
    # The signature takes text for categories and no personal columns.
    signature_columns = exported_signature(models / "churn")
    assert signature_columns == FEATURES


def test_training_again_with_nothing_changed_adds_no_version(store, first, caplog):
    from mlflow import MlflowClient

    config, frame, offers, cost, hydra = store
    _, champion = first
    client = MlflowClient(config.mlflow.tracking_uri)
    before = len(client.search_model_versions("name = 'churnml-churn'"))
    result = train_models(frame, FEATURES, config.model, 6, offers, None, cost)
    with caplog.at_level("INFO"):
        again = publish(result, _inputs(frame, offers, cost), config, {}, hydra, ("model.seed=42",))
    assert len(client.search_model_versions("name = 'churnml-churn'")) == before
    assert (again.churn_version, again.alias) == (champion.churn_version, "champion")
    assert again.switching_version == champion.switching_version
    assert f"nothing changed since champion version {champion.churn_version}" in caplog.text
    run = client.get_run(again.run_id)
    assert run.data.tags["registered"] == f"reused version {champion.churn_version}"
    assert run.info.run_name.startswith("train demo model.seed=42 ")
    # The version says what it is in the registry.
    description = client.get_model_version("churnml-churn", champion.churn_version).description
    assert "out-of-time" in description and "AUC 0." in description and "ranked by" in description


def exported_signature(path: Path) -> list[str]:
    from mlflow.models import Model

    return Model.load(str(path)).signature.inputs.input_names()


def test_a_model_that_loses_to_a_baseline_is_ranked_by_it_and_still_no_champion_over_a_better_one(
        store, first, caplog):
    config, frame, offers, cost, hydra = store
    _, champion = first
    weak = ["noise", "lines_12m"]
    with caplog.at_level("WARNING"):
        result = train_models(frame, weak, config.model, 6, offers, None, cost)
        published = publish(result, _inputs(frame, offers, cost, weak), config, {}, hydra)
    ranked_by = published.gate.baseline.baseline
    assert not published.gate.baseline.passed and result.ranker.name == ranked_by
    assert f"the list is ranked by {ranked_by}" in caplog.text
    # The baseline's AUC is what competes with the champion, which ranks better: a challenger.
    assert published.gate.new_auc == pytest.approx(result.evaluation.metrics[ranked_by]["auc"])
    assert published.alias == "challenger"
    assert tracking.alias_version("churnml-churn", "champion") == champion.churn_version

    from mlflow import MlflowClient

    run = MlflowClient(config.mlflow.tracking_uri).get_run(published.run_id)
    assert run.data.tags["gate.beats_baseline"] == "false" and f"ranked by {ranked_by}" in run.data.tags["gate.reason"]
    assert run.data.tags["ranked_by"] == ranked_by and run.data.params["model.ranked_by"] == ranked_by


def test_a_worse_model_does_not_take_the_champion_alias(store, first):
    config, frame, offers, cost, hydra = store
    _, champion = first
    weak = ["noise", "lines_12m"]
    result = train_models(frame, weak, config.model, 6, offers, None, cost)
    published = publish(result, _inputs(frame, offers, cost, weak), config, {}, hydra)
    assert published.alias == "challenger"
    assert published.gate.champion_auc > published.gate.new_auc
    assert published.gate.method == "champion's evaluated model"
    assert tracking.alias_version("churnml-churn", "champion") == champion.churn_version
    assert tracking.alias_version("churnml-churn", "challenger") == published.churn_version
    # Nothing exported for a challenger.
    exported = json.loads((Path(config.paths.models) / "champion.json").read_text())
    assert exported["churn_version"] == champion.churn_version

    from mlflow import MlflowClient

    tags = MlflowClient(config.mlflow.tracking_uri).get_run(published.run_id).data.tags
    assert tags["gate.test_snapshots"] == ",".join(s.strftime("%Y-%m") for s in result.plan.test)


@pytest.mark.slow
def test_a_failed_run_moves_no_alias(store, first, tmp_path):
    config, frame, offers, cost, hydra = store
    before = {a: tracking.alias_version("churnml-churn", a) for a in ("champion", "challenger")}
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("")
    # Another seed: the same recipe refitted, which would take @champion and be exported.
    broken = replace(config, paths=replace(config.paths, models=str(blocker / "models")),
                     model=replace(config.model, seed=7))
    result = train_models(frame, FEATURES, broken.model, 6, offers, None, cost)
    with pytest.raises(OSError):
        publish(result, _inputs(frame, offers, cost), broken, {}, hydra)
    after = {a: tracking.alias_version("churnml-churn", a) for a in ("champion", "challenger")}
    assert after == before

    from mlflow import MlflowClient

    client = MlflowClient(config.mlflow.tracking_uri)
    runs = client.search_runs([client.get_experiment_by_name("churnml").experiment_id], max_results=1)
    assert runs[0].info.status == "FAILED"


def test_missing_models_raise_no_model_error_with_the_command(store, tmp_path):
    config = store[0]
    with pytest.raises(NoModelError, match="churnml train"):
        tracking.load_churn_model(str(tmp_path / "nothing"))
    with pytest.raises(NoModelError, match="churnml train"):
        tracking.load_churn_model("models:/no-such-model@champion", config.mlflow.tracking_uri)
