"""`churnml tune`: search the churn model's hyperparameters with Optuna.

The objective is the mean validation AUC of the inner folds of the evaluation plan's fitting
rows (the folds that choose the tree count) — never the held-out test. Each trial is a nested MLflow run
under one `tune` run. The best parameters are written as an experiment config,
`conf/experiment/<tune.output_experiment>.yaml`, so that `churnml train experiment=tuned` uses
them. The search space lives in `conf/tune/` (`name: {type: int|float, low, high, log}`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from churnml import tracking
from churnml.catalog import experiment_file
from churnml.config import Config
from churnml.data.source import data_source, run_name
from churnml.io import write_text
from churnml.models.tuning import check_space, experiment_yaml, tune
from churnml.stages import RunContext

log = logging.getLogger(__name__)

def run_stage(ctx: RunContext) -> None:
    from churnml.catalog import load_model_inputs

    config = ctx.config
    check_space(config.tune.space)
    tracking.connect(config.mlflow.tracking_uri)  # an unreachable server fails now
    inputs = load_model_inputs(config)
    search(inputs, config, ctx.params, ctx.output_dir, ctx.overrides)


def search(inputs, config: Config, params: dict[str, Any], output_dir: Path | None,
           overrides: tuple[str, ...] = ()):
    """Tune on `inputs` (`churnml.models.training.ModelInputs`), track the study with one nested
    run per trial, and write the experiment file. Returns `(study, path of the file)`."""
    from churnml.models.churn import training_rows
    from churnml.models.split import plan_evaluation

    started = time.perf_counter()
    space = check_space(config.tune.space)
    target = experiment_file(config)
    rows = training_rows(inputs.frame)
    plan = plan_evaluation(rows["snapshot"].unique(), inputs.horizon, config.model.split, config.model.seed)
    mlcfg = config.mlflow

    source = data_source(config.data)
    tags = {"churnml.stage": "tune", **source.as_tags()}
    with tracking.run(mlcfg, run_name("tune", source, overrides=overrides), params, output_dir, tags=tags) as run_id:
        tracking.log_params(plan.as_params())

        def on_trial(number: int, values: dict[str, Any], fit) -> None:
            with tracking.run(mlcfg, f"trial-{number:03d}", values, nested=True):
                tracking.log_metrics({"valid/auc": fit.valid_auc, "model/n_trees": fit.n_trees})
            log.info(
                "trial %d: validation auc %.4f, %d trees, %s",
                number,
                fit.valid_auc,
                fit.n_trees,
                ", ".join(f"{k}={_short(v)}" for k, v in values.items()),
            )

        study = tune(rows, inputs.features, plan, config, space, on_trial)
        best = replace(config.model.churn, **study.best_params)
        name = config.tune.output_experiment
        write_text(target, experiment_yaml(best, study.best_value, len(study.trials), run_id, name))
        tracking.log_params({f"best.{k}": v for k, v in study.best_params.items()})
        tracking.log_metrics(
            {
                "best/valid_auc": study.best_value,
                "best/trial": float(study.best_trial.number),
                "tune/n_trials": float(len(study.trials)),
                "timing/tune_seconds": time.perf_counter() - started,
            }
        )
        tracking.log_files([target], artifact_path="experiment")
        tracking.log_frame(study.trials_dataframe(), "tune/trials.csv")
    log.info(
        "tune done in %.1fs: best validation auc %.4f (trial %d); wrote %s — train with "
        "`churnml train experiment=%s`",
        time.perf_counter() - started,
        study.best_value,
        study.best_trial.number,
        target,
        config.tune.output_experiment,
    )
    return study, target


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
