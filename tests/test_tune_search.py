"""Tuning: the objective never sees the test, the study is deterministic, the experiment file works."""

from __future__ import annotations

from dataclasses import replace

import pytest
from omegaconf import OmegaConf

from churnml.config import Config, LgbmParams, MlflowConfig, ModelConfig, PathsConfig, TuneConfig
from churnml.errors import ConfigError
from churnml.models.churn import training_rows
from churnml.models.split import plan_evaluation
from churnml.models.training import ModelInputs
from churnml.models.tuning import check_space, tune
from churnml.stages.tune import search
from helpers.churn_frames import FEATURES, feature_frame

SPACE = {
    "num_leaves": {"type": "int", "low": 4, "high": 31, "log": True},
    "learning_rate": {"type": "float", "low": 0.02, "high": 0.2, "log": True},
}


@pytest.fixture(scope="module")
def data():
    frame, offers, _ = feature_frame(n_accounts=200, n_snapshots=30, seed=5)
    rows = training_rows(frame)
    return frame, offers, rows, plan_evaluation(rows["snapshot"].unique(), 6, Config().model.split, seed=42)


def test_study_is_deterministic_and_never_touches_the_test(data):
    _, _, rows, split = data
    config = Config(tune=TuneConfig(n_trials=3, seed=7, space=SPACE), model=ModelConfig(num_threads=1))
    config.model.churn.n_estimators = 120
    # The test snapshots are removed: tuning must give exactly the same answer without them.
    without_test = rows[~rows["snapshot"].isin(split.test)]
    first = tune(rows, FEATURES, split, config, check_space(SPACE))
    second = tune(without_test, FEATURES, split, config, check_space(SPACE))
    assert first.best_params == second.best_params
    assert first.best_value == pytest.approx(second.best_value)
    assert [t.value for t in first.trials] == pytest.approx([t.value for t in second.trials])


@pytest.mark.parametrize(
    "space, message",
    [
        ({}, "tune.space is empty"),
        ({"depth": {"type": "int", "low": 1, "high": 3}}, "tune.space.depth is not a parameter"),
        ({"num_leaves": {"type": "int", "low": 8, "high": 4}}, "low < high"),
        ({"lambda_l2": {"low": 0, "high": 1, "log": True}}, "above 0 on a log scale"),
    ],
)
def test_bad_search_space_is_a_config_error(space, message):
    with pytest.raises(ConfigError, match=message):
        check_space(space)


@pytest.mark.slow
def test_search_tracks_trials_and_writes_a_usable_experiment(data, tmp_path):
    frame, offers, _, _ = data
    config = Config(
        paths=PathsConfig(root=str(tmp_path)),
        model=ModelConfig(num_threads=1),
        mlflow=MlflowConfig(tracking_uri=f"sqlite:///{tmp_path}/mlflow.db", artifact_location=str(tmp_path / "art")),
        tune=TuneConfig(n_trials=3, space=SPACE, output_experiment="tuned_test"),
    )
    inputs = ModelInputs(frame, FEATURES, offers, 6, None, None, None)
    study, path = search(inputs, config, {"tune.n_trials": 3}, None)
    assert path == tmp_path / "conf" / "experiment" / "tuned_test.yaml"
    text = path.read_text()
    assert text.startswith("# @package _global_")
    churn = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(LgbmParams), OmegaConf.load(path).model.churn))
    assert churn == replace(LgbmParams(), **study.best_params)

    from mlflow import MlflowClient

    client = MlflowClient(config.mlflow.tracking_uri)
    runs = client.search_runs([client.get_experiment_by_name("churnml").experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 1 and len(children) == 3
    assert parents[0].data.metrics["best/valid_auc"] == pytest.approx(study.best_value)
