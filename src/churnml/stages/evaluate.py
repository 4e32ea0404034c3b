"""`churnml evaluate`: rolling-origin backtest of the churn model against the baselines.

At each of the last `model.backtest_folds` labelled snapshots the model and the baselines are
refitted using only snapshots whose label window ends before it, and scored on it. Every
metric's mean and spread across the origins is printed and tracked (`backtest/auc_mean`,
`baseline_rfm/backtest/auc_std`, …); per-origin figures are logged as steps and as a CSV.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import pandas as pd

from churnml import tracking
from churnml.data.source import data_source, run_name
from churnml.evaluate import METRIC_NAMES, backtest_metrics, flatten, summarize_backtest
from churnml.models.evaluation import backtest
from churnml.stages import RunContext

log = logging.getLogger(__name__)


def run_stage(ctx: RunContext) -> None:
    from churnml.catalog import load_model_inputs

    tracking.connect(ctx.config.mlflow.tracking_uri)  # an unreachable server fails now
    inputs = load_model_inputs(ctx.config)
    evaluate_and_track(inputs, ctx.config, ctx.params, ctx.output_dir, ctx.overrides)


def evaluate_and_track(inputs, config, params, output_dir,
                       overrides: tuple[str, ...] = ()) -> tuple[pd.DataFrame, dict[str, float]]:
    """Backtest on `inputs` (`ModelInputs`), print and track it (`overrides` name the run).
    Returns (folds, metrics)."""
    started = time.perf_counter()
    folds = backtest(inputs.frame, inputs.features, config.model, inputs.horizon, inputs.oracle)
    metrics = backtest_metrics(folds)
    _print(folds)
    source = data_source(config.data)
    tags = {"churnml.stage": "evaluate", **source.as_tags()}
    with tracking.run(config.mlflow, run_name("evaluate", source, overrides=overrides), params, output_dir, tags=tags) as run_id:
        tracking.log_metrics(metrics)
        for step, (_, part) in enumerate(folds.groupby("origin", sort=True)):
            figures = {row.scorer: {m: getattr(row, m) for m in METRIC_NAMES} for row in part.itertuples(index=False)}
            tracking.log_metrics(flatten(figures, prefix="backtest/"), step=step)
        tracking.log_frame(_readable(folds), "backtest/folds.csv")
        tracking.log_figure(_figure(folds), "plots/backtest_auc.png")
        tracking.log_metrics({"timing/evaluate_seconds": time.perf_counter() - started})
    log.info(
        "evaluate done in %.1fs: run %s, backtest auc %.4f ± %.4f over %d origins",
        time.perf_counter() - started,
        run_id,
        metrics["backtest/auc_mean"],
        metrics["backtest/auc_std"],
        int(metrics["backtest/origins"]),
    )
    return folds, metrics


def _readable(folds: pd.DataFrame) -> pd.DataFrame:
    out = folds.copy()
    for column in ("origin", "train_from", "train_to"):
        out[column] = out[column].dt.strftime("%Y-%m")
    return out


def _figure(folds: pd.DataFrame):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4.5))
    ax = fig.subplots()
    for scorer, part in folds.groupby("scorer", sort=False):
        ax.plot(part["origin"], part["auc"], marker="o", label=str(scorer))
    ax.set(xlabel="origin (held-out snapshot)", ylabel="ROC AUC", title="rolling-origin backtest")
    ax.legend(loc="lower left")
    fig.autofmt_xdate()
    return fig


def _print(folds: pd.DataFrame) -> None:
    """Mean ± spread of every metric (columns) for each scorer (rows)."""
    from churnml.console import print_scorers

    summary = summarize_backtest(folds)
    origins = sorted(folds["origin"].unique())
    title = (f"rolling-origin backtest, {len(origins)} origins "
             f"({pd.Timestamp(origins[0]):%Y-%m} to {pd.Timestamp(origins[-1]):%Y-%m}): mean ± spread")
    cells = {
        scorer: ["n/a" if np.isnan(f[f"{name}_mean"]) else f"{f[f'{name}_mean']:.3f} ± {f[f'{name}_std']:.3f}"
                 for name in METRIC_NAMES]
        for scorer, f in summary.items()
    }
    print_scorers(title, cells)
