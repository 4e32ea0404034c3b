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
from dataclasses import asdict, fields, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from churnml import tracking
from churnml.data.source import data_source, run_name
from churnml.config import Config, LgbmParams, TuneConfig
from churnml.errors import ConfigError
from churnml.io import write_text
from churnml.stages import RunContext

log = logging.getLogger(__name__)

_KINDS = ("int", "float")


def check_space(space: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The search space, checked: every name a field of `model.churn`, every range valid."""
    allowed = {f.name for f in fields(LgbmParams)}
    if not space:
        raise ConfigError("tune.space is empty: give at least one parameter to search (see conf/tune/default.yaml)")
    out = {}
    for name, spec in space.items():
        if name not in allowed:
            raise ConfigError(
                f"tune.space.{name} is not a parameter of model.churn; allowed: {', '.join(sorted(allowed))}"
            )
        spec = dict(spec)
        kind = spec.get("type", "float")
        if kind not in _KINDS:
            raise ConfigError(f"tune.space.{name}.type must be int or float; got {kind!r}")
        low, high = spec.get("low"), spec.get("high")
        if low is None or high is None or not low < high:
            raise ConfigError(f"tune.space.{name} needs low < high; got low={low!r}, high={high!r}")
        if spec.get("log") and low <= 0:
            raise ConfigError(f"tune.space.{name}.low must be above 0 on a log scale; got {low!r}")
        out[name] = {"type": kind, "low": low, "high": high, "log": bool(spec.get("log", False))}
    return out


def suggest(trial, space: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """One point of the space, drawn by an Optuna trial."""
    out = {}
    for name, spec in space.items():
        if spec["type"] == "int":
            out[name] = trial.suggest_int(name, int(spec["low"]), int(spec["high"]), log=spec["log"])
        else:
            out[name] = trial.suggest_float(name, float(spec["low"]), float(spec["high"]), log=spec["log"])
    return out


def experiment_yaml(churn: LgbmParams, best_auc: float, n_trials: int, run_id: str, name: str) -> str:
    """The experiment config that applies the tuned `model.churn` parameters."""
    from omegaconf import OmegaConf

    body = OmegaConf.to_yaml({"model": {"churn": asdict(churn)}})
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    head = [
        "# @package _global_",
        f"# Written by `churnml tune` on {stamp}: best validation AUC {best_auc:.4f} over {n_trials} trials",
        f"# (MLflow run {run_id}). Use it with `churnml train experiment={name}`; it sets model.churn only.",
    ]
    return "\n".join(head) + "\n" + body


def tune(rows, features, plan, config: Config, space: dict[str, dict[str, Any]], on_trial=None):
    """Run the Optuna study; returns it. `on_trial(trial_number, params, fit)` is called after
    every trial (for tracking)."""
    import optuna

    from churnml.models.churn import fit_churn

    cfg: TuneConfig = config.tune
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.TPESampler(seed=cfg.seed)
    study = optuna.create_study(direction="maximize", sampler=sampler, study_name="churnml-churn")

    def objective(trial) -> float:
        params = suggest(trial, space)
        model_cfg = replace(config.model, churn=replace(config.model.churn, **params))
        fit = fit_churn(rows, features, plan, model_cfg)
        trial.set_user_attr("n_trees", fit.n_trees)
        if on_trial is not None:
            on_trial(trial.number, params, fit)
        return fit.valid_auc

    study.optimize(objective, n_trials=cfg.n_trials, timeout=cfg.timeout_seconds)
    return study


def run_stage(ctx: RunContext) -> None:
    from churnml.catalog import load_model_inputs

    config = ctx.config
    check_space(config.tune.space)
    tracking.connect(config.mlflow.tracking_uri)  # an unreachable server fails now
    inputs = load_model_inputs(config)
    search(inputs, config, ctx.params, ctx.output_dir)


def search(inputs, config: Config, params: dict[str, Any], output_dir: Path | None):
    """Tune on `inputs` (`churnml.models.training.ModelInputs`), track the study with one nested
    run per trial, and write the experiment file. Returns `(study, path of the file)`."""
    from churnml.models.churn import training_rows
    from churnml.models.split import plan_evaluation

    started = time.perf_counter()
    space = check_space(config.tune.space)
    if config.tune.n_trials < 1:
        raise ConfigError(f"tune.n_trials must be at least 1; got {config.tune.n_trials}")
    target = experiment_path(config)
    rows = training_rows(inputs.frame)
    plan = plan_evaluation(rows["snapshot"].unique(), inputs.horizon, config.model.split, config.model.seed)
    mlcfg = config.mlflow

    source = data_source(config.data)
    tags = {"churnml.stage": "tune", **source.as_tags()}
    with tracking.run(mlcfg, run_name("tune", source), params, output_dir, tags=tags) as run_id:
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


def experiment_path(config: Config) -> Path:
    """Where the tuned experiment config goes: `<paths.root>/conf/experiment/<name>.yaml`."""
    name = config.tune.output_experiment
    if not name or "/" in name or name.startswith("."):
        raise ConfigError(f"tune.output_experiment must be a plain file name; got {name!r}")
    return Path(config.paths.root) / "conf" / "experiment" / f"{name}.yaml"


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
