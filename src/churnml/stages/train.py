"""`churnml train`: fit, evaluate out-of-time, track, register, gate and export.

1. `load_model_inputs`: the input tables (the synthetic world is generated when its folder is
   empty), the features built from them with this run's config, the competitor offers;
2. `train_models`: the evaluation plan (out-of-time, or an account-disjoint holdout on short
   extracts), churn model + baselines, their metrics on the held-out rows (and the oracle's on
   the synthetic world), switching-cost model;
3. `publish`: one MLflow run with the config, metrics, plots, feature list and data
   fingerprint; both models registered; the champion gate; the champion exported to
   `paths.models`. The aliases move last, so a run that fails never moves one.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from churnml import code_version, tracking
from churnml.config import Config
from churnml.data.source import CHAMPION, account_fingerprint, data_source, run_name
from churnml.models.baselines import NAMES as BASELINES
from churnml.models.gate import champion_gate
from churnml.models.training import (
    ModelInputs,
    TrainResult,
    build_churn_model,
    build_switching_model,
    fingerprint,
    identity,
    input_example,
    recipe,
    switching_example,
    train_models,
)
from churnml.stages import RunContext
from churnml.tracking.champion import champion_of

log = logging.getLogger(__name__)


@dataclass
class Published:
    """What a training run left in MLflow and on disk."""

    run_id: str
    churn_version: str
    switching_version: str | None
    alias: str  # champion | challenger
    gate: Any  # churnml.models.gate.GateDecision


def run_stage(ctx: RunContext) -> None:
    train_and_publish(ctx.config, ctx.params, ctx.output_dir, overrides=ctx.overrides)


def train_and_publish(config: Config, params: Mapping[str, Any], output_dir: Path | None,
                      tables=None, frame=None, overrides: tuple[str, ...] = ()) -> Published:
    """The whole `train` stage; `tables` and their features `frame` are loaded and built when
    not given (`churnml run` passes the ones it already has); `overrides` name the run."""
    from churnml.catalog import load_model_inputs

    started = time.perf_counter()
    tracking.connect(config.mlflow.tracking_uri)  # an unreachable server fails now, not after the work
    inputs = load_model_inputs(config, tables, frame, sample=True)
    result = train_models(
        inputs.frame,
        inputs.features,
        config.model,
        inputs.horizon,
        inputs.offers,
        inputs.oracle,
        inputs.true_switching_cost,
    )
    _print_summary(result)
    published = publish(result, inputs, config, params, output_dir, overrides)
    log.info(
        "train done in %.1fs: run %s, %s version %s is @%s",
        time.perf_counter() - started,
        published.run_id,
        config.mlflow.churn_model_name,
        published.churn_version,
        data_source(config.data).alias(published.alias),
    )
    return published


def publish(
    result: TrainResult,
    inputs: ModelInputs,
    config: Config,
    params: Mapping[str, Any],
    output_dir: Path | None,
    overrides: tuple[str, ...] = (),
) -> Published:
    """Track the training in one MLflow run, register both models (unless the champion is the
    same model: same data, settings and code), decide the aliases with the champion gate and
    export the champion to `paths.models`."""
    mlcfg = config.mlflow
    source = data_source(config.data)
    data_fingerprint = fingerprint(inputs.frame, inputs.features)
    model_recipe = recipe(inputs.features, config.model, asdict(config.labels), inputs.horizon)
    churn_model = build_churn_model(result, config.model, inputs.families, data_fingerprint, model_recipe)
    churn_model.info["source"] = {**source.as_dict(), **account_fingerprint(inputs.frame["account_id"])}
    churn_model.info["identity"] = identity(data_fingerprint, model_recipe, config.model, code_version())
    switching_model = build_switching_model(result)
    if switching_model is not None:
        switching_model.info["source"] = churn_model.info["source"]
    champion = champion_of(source, mlcfg, inputs.frame["account_id"])
    tags = {"churnml.stage": "train", **source.as_tags()}
    with tracking.run(mlcfg, run_name("train", source, overrides=overrides), params, output_dir, tags=tags) as run_id:
        tracking.log_params({**result.plan.as_params(), **fitted_params(churn_model)})
        tracking.log_metrics(result.metrics)
        tracking.set_tags({"switching_model": result.switching_note, "evaluation.plan": result.plan.kind,
                           "ranked_by": churn_model.ranked_by})
        tracking.log_dict(data_fingerprint, "data/fingerprint.json")
        tracking.log_frame(inputs.dictionary, "data/features.csv")
        _log_plots(result, churn_model)

        tick = time.perf_counter()
        ranked_by = result.baseline.ranked_by if result.baseline else "model"
        if champion is not None and champion[1].info.get("identity") == churn_model.info["identity"]:
            return _reuse(champion, run_id, config, source)
        decision = champion_gate(
            result.evaluation.metrics[ranked_by]["auc"], champion, result.rows, result.plan, config.model,
            result.baseline, result.evaluation.scores, model_recipe,
        )
        tracking.log_metrics({**decision.as_metrics(), "timing/gate_seconds": time.perf_counter() - tick})
        tracking.set_tags(decision.as_tags())
        _say_gate(decision, source)

        tick = time.perf_counter()
        churn = tracking.log_model(
            churn_model, input_example(result), tracking.CHURN_ARTIFACT, mlcfg.churn_model_name
        )
        switching = None
        if switching_model is not None:
            switching = tracking.log_model(
                switching_model, switching_example(result), tracking.SWITCHING_ARTIFACT, mlcfg.switching_model_name
            )
        tracking.describe_version(churn.name, churn.version, version_description(churn_model, source))
        tracking.log_metrics({"timing/register_seconds": time.perf_counter() - tick})

        if decision.alias == CHAMPION:
            _export(config, run_id, churn_model, switching_model, result, churn.version, switching)
        # Last: an exception anywhere above leaves every alias where it was.
        alias = source.alias(decision.alias)
        tracking.set_alias(churn.name, alias, churn.version)
        if switching is not None:
            tracking.set_alias(switching.name, alias, switching.version)
    return Published(
        run_id=run_id,
        churn_version=churn.version,
        switching_version=switching.version if switching else None,
        alias=decision.alias,
        gate=decision,
    )


def _reuse(champion, run_id: str, config: Config, source) -> Published:
    """Training again what the champion already is (same data, settings and code) adds no
    version: the run is tracked, the champion stays and is said to."""
    version = champion[0]
    mlcfg = config.mlflow
    reason = (f"nothing changed since champion version {version} (same data, settings and code): "
              "no new version, it stays @" + source.alias(CHAMPION))
    tracking.set_tags({"gate.alias": CHAMPION, "gate.champion_version": version, "gate.reason": reason,
                       "gate.method": "identical", "registered": f"reused version {version}"})
    log.info("champion gate (%s): %s", source.name or "demo", reason)
    switching = tracking.version_of_same_run(mlcfg.churn_model_name, version, mlcfg.switching_model_name)
    return Published(run_id=run_id, churn_version=version, switching_version=switching, alias=CHAMPION,
                     gate=None)


def version_description(churn_model, source) -> str:
    """A registered version in a line: its data source, plan, AUC, margin over the best baseline
    and what ranks its list."""
    info, metrics = churn_model.info, churn_model.metrics
    plan = info.get("evaluation_plan", "oot")
    check = info.get("baseline_check") or {}
    margin = ""
    if check and np.isfinite(check.get("baseline_auc", float("nan"))):
        margin = (f"; {check['auc'] - check['baseline_auc']:+.4f} against {check['baseline']} "
                  f"({check['low']:+.4f} to {check['high']:+.4f})")
    return (f"{source.label}; {info.get('evaluation_plan_name', plan)} on {', '.join(info.get('test_snapshots', []))}: "
            f"AUC {metrics.get(f'{plan}/auc', float('nan')):.4f}{margin}; ranked by {churn_model.ranked_by}; "
            f"fitted on {info.get('fitted_from')}..{info.get('fitted_to')}")


def fitted_params(churn_model) -> dict[str, str]:
    """What the model that scores was fitted on, as run parameters."""
    info = churn_model.info
    return {"model.fitted_from": info["fitted_from"], "model.fitted_to": info["fitted_to"],
            "model.ranked_by": churn_model.ranked_by,
            "model.features_left_out": ",".join(sorted(info.get("features_left_out", {}))) or "none"}


def _say_gate(decision, source) -> None:
    """Print the gate's decision and its reason on the console (and the log)."""
    log.info("champion gate (%s): %s", source.name or "demo", decision.describe())


def _export(config: Config, run_id, churn_model, switching_model, result, churn_version, switching) -> None:
    models = Path(config.paths.models)
    tracking.export_model(churn_model, input_example(result), models / "churn")
    if switching_model is not None:
        tracking.export_model(switching_model, switching_example(result), models / "switching")
    tracking.write_json(
        {
            "churn_model": config.mlflow.churn_model_name,
            "churn_version": churn_version,
            "switching_model": config.mlflow.switching_model_name,
            "switching_version": switching.version if switching else None,
            "run_id": run_id,
            "trained_at": churn_model.info["trained_at"],
            "test_snapshots": churn_model.info["test_snapshots"],
            "source": churn_model.info["source"],
            "evaluation_plan": churn_model.info["evaluation_plan"],
            "evaluation_reason": churn_model.info["evaluation_reason"],
            "metrics": tracking.finite(churn_model.metrics),
        },
        models / "champion.json",
    )


def _log_plots(result: TrainResult, churn_model) -> None:
    from churnml import plots
    from churnml.models.churn import importance

    tick = time.perf_counter()
    scores = result.evaluation.scores
    scorers = [c for c in ("model", *BASELINES, "oracle") if c in scores.columns]
    tracking.log_figure(plots.roc_figure(scores, scorers), "plots/roc.png")
    tracking.log_figure(plots.gains_figure(scores, scorers), "plots/gains_lift.png")
    tracking.log_figure(plots.calibration_figure(scores, scorers), "plots/calibration.png")
    gain = importance(result.final)
    tracking.log_figure(plots.importance_figure(gain), "plots/feature_importance.png")
    tracking.log_frame(gain.rename_axis("feature").reset_index(), "importance.csv")
    latest = result.rows[result.rows["snapshot"] == result.rows["snapshot"].max()]
    sample = latest.sample(min(len(latest), 2000), random_state=0)
    contributions = churn_model.contributions(sample)
    tracking.log_figure(
        plots.shap_summary_figure(contributions, result.final.matrix(sample)), "plots/shap_summary.png"
    )
    if result.switching is not None and result.switching_costs is not None and len(result.switching_costs):
        # Six accounts spread from the least to the most tempted by the deepest discount seen.
        costs = result.switching_costs
        accounts = result.latest
        deepest = result.switching.switch_probability(accounts, result.switching.max_discount)
        order = np.argsort(deepest, kind="stable")
        picks = order[np.unique(np.linspace(0, len(order) - 1, min(6, len(order))).astype(int))]
        curves = result.switching.curve(accounts.iloc[picks])
        tracking.log_figure(
            plots.switching_curve_figure(curves, result.switching.threshold), "plots/switching_curves.png"
        )
        tracking.log_frame(
            costs.rename("switching_cost").rename_axis("account_id").reset_index(), "switching_costs.csv"
        )
    tracking.log_metrics({"timing/plots_seconds": time.perf_counter() - tick})


def _print_summary(result: TrainResult) -> None:
    """Metrics (columns) of the model, the baselines and the oracle (rows) on the held-out rows."""
    from churnml.console import print_scorers
    from churnml.evaluate import METRIC_NAMES

    metrics = result.evaluation.metrics
    print_scorers(f"{result.plan.describe()}\n{result.plan.reason}",
                  {s: [f"{metrics[s][name]:.4f}" for name in METRIC_NAMES] for s in metrics})
