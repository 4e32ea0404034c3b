"""Hyperparameter search of the churn model with Optuna: the search space, the study, and the
experiment config that applies the best parameters. The objective is the mean validation AUC
of the inner folds of the evaluation plan's fitting rows, never the held-out test."""

from __future__ import annotations

from dataclasses import asdict, fields, replace
from datetime import datetime, timezone
from typing import Any

from churnml.config import Config, LgbmParams, TuneConfig
from churnml.errors import ConfigError

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
