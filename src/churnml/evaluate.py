"""Metrics, the model against the baselines on an evaluation plan, and the rolling-origin backtest.

Every metric takes the labels `y` (0/1), a score `p` (higher = more likely to churn; a
probability for Brier and calibration error) and, where it matters, the revenue of each row.
Ranked-list metrics (lift, revenue capture) treat tied scores fairly: a group of equal scores
that straddles the cut counts in proportion to the part of it that falls inside, which is the
expected value under a random order of the ties (a yes/no rule scores the same however its
rows happen to be sorted).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from churnml.config import ModelConfig
from churnml.models.split import Plan

log = logging.getLogger(__name__)

TOP_FRACTION = 0.10
CALIBRATION_BINS = 10
METRIC_NAMES = ("auc", "pr_auc", "brier", "ece", "lift_top10", "revenue_capture_10")


def roc_auc(y, p) -> float:
    """ROC AUC; NaN when only one class is present (the metric is undefined there)."""
    y = np.asarray(y, dtype=float)
    if len(np.unique(y)) < 2:
        return float("nan")
    return float(roc_auc_score(y, np.asarray(p, dtype=float)))


def pr_auc(y, p) -> float:
    """Area under the precision-recall curve (average precision); NaN without positives."""
    y = np.asarray(y, dtype=float)
    if y.sum() == 0:
        return float("nan")
    return float(average_precision_score(y, np.asarray(p, dtype=float)))


def brier(y, p) -> float:
    """Mean squared difference between the probability and the 0/1 outcome."""
    return float(brier_score_loss(np.asarray(y, dtype=float), np.asarray(p, dtype=float)))


def calibration_table(y, p, bins: int = CALIBRATION_BINS) -> pd.DataFrame:
    """Per non-empty equal-width bin of [0, 1]: row count `n`, observed rate `y`, mean probability `p`."""
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    idx = np.minimum((p * bins).astype(int), bins - 1)
    return pd.DataFrame({"bin": idx, "y": y, "p": p}).groupby("bin").agg(
        n=("y", "size"), y=("y", "mean"), p=("p", "mean")
    )


def expected_calibration_error(y, p, bins: int = CALIBRATION_BINS) -> float:
    """Share-weighted mean of |observed rate − mean probability| over equal-width bins of [0, 1]."""
    frame = calibration_table(y, p, bins)
    return float((frame["n"] / frame["n"].sum() * (frame["y"] - frame["p"]).abs()).sum())


def top_share(score, values, fraction: float = TOP_FRACTION) -> float:
    """Sum of `values` over the top `fraction` of rows ranked by `score` (ties shared pro rata)."""
    score = np.asarray(score, dtype=float)
    k = fraction * len(score)
    groups = (
        pd.DataFrame({"s": score, "v": np.asarray(values, dtype=float)})
        .groupby("s", sort=True)["v"]
        .agg(["sum", "size"])
        .iloc[::-1]
    )
    before = groups["size"].cumsum() - groups["size"]
    taken = ((k - before) / groups["size"]).clip(0.0, 1.0)
    return float((groups["sum"] * taken).sum())


def top_decile_lift(y, p, fraction: float = TOP_FRACTION) -> float:
    """Churn rate in the top `fraction` of the list divided by the overall churn rate."""
    y = np.asarray(y, dtype=float)
    if y.sum() == 0:
        return float("nan")
    rate_top = top_share(p, y, fraction) / (fraction * len(y))
    return float(rate_top / y.mean())


def revenue_capture(y, p, revenue, fraction: float = TOP_FRACTION) -> float:
    """Share of the churned accounts' revenue that sits in the top `fraction` of the list."""
    lost = np.asarray(y, dtype=float) * np.clip(np.asarray(revenue, dtype=float), 0.0, None)
    if lost.sum() == 0:
        return float("nan")
    return float(top_share(p, lost, fraction) / lost.sum())


def classification_metrics(y, p, revenue) -> dict[str, float]:
    """All the metrics of one scored list: auc, pr_auc, brier, ece, lift_top10, revenue_capture_10."""
    return {
        "auc": roc_auc(y, p),
        "pr_auc": pr_auc(y, p),
        "brier": brier(y, p),
        "ece": expected_calibration_error(y, p),
        "lift_top10": top_decile_lift(y, p),
        "revenue_capture_10": revenue_capture(y, p, revenue),
    }


def flatten(metrics: dict[str, dict[str, float]], prefix: str = "") -> dict[str, float]:
    """`{"model": {"auc": ..}, "baseline_rule": {...}}` -> `{"oot/auc": .., "baseline_rule/oot/auc": ..}`.

    The model's own figures sit at the top of the namespace, the others under their own name.
    """
    out: dict[str, float] = {}
    for who, figures in metrics.items():
        head = "" if who == "model" else f"{who}/"
        for name, value in figures.items():
            out[f"{head}{prefix}{name}"] = value
    return out


# ----------------------------------------------------------------------------------------------
# The model against the baselines on one evaluation plan
# ----------------------------------------------------------------------------------------------


@dataclass
class SplitEvaluation:
    """The fitted churn model of one plan and the scores of everyone on its held-out rows."""

    fit: object  # churnml.models.churn.ChurnFit
    baselines: object  # churnml.models.baselines.Baselines
    scores: pd.DataFrame  # held-out rows: account_id, snapshot, churn, revenue_12m, model, baseline_*
    plan: Plan
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)


def evaluate_split(
    frame: pd.DataFrame,
    features: list[str],
    plan: Plan,
    cfg: ModelConfig,
    oracle: Callable[[pd.DataFrame], np.ndarray] | None = None,
) -> SplitEvaluation:
    """Fit the churn model and the baselines on the plan's fitting rows, score its held-out rows
    with all of them (and the oracle, when given: a function of the held-out rows) and compute
    the metrics."""
    from churnml.models.churn import fit_churn, training_rows

    rows = training_rows(frame)
    fit = fit_churn(rows, features, plan, cfg)
    return evaluate_fitted(rows, fit, plan, oracle)


def evaluate_fitted(
    frame: pd.DataFrame,
    fit,  # churnml.models.churn.ChurnFit
    plan: Plan,
    oracle: Callable[[pd.DataFrame], np.ndarray] | None = None,
) -> SplitEvaluation:
    """Score the held-out rows of `plan` with a churn model that never saw them (e.g. the model
    a registered champion carries) and with the baselines fitted on the plan's fitting rows;
    compute the metrics. What `evaluate_split` does after fitting."""
    from churnml.models.baselines import fit_baselines
    from churnml.models.churn import training_rows

    rows = training_rows(frame)
    baselines = fit_baselines(rows[plan.fit_mask(rows)])
    test = rows[plan.test_mask(rows)]
    scores = test[["account_id", "snapshot", "churn", "revenue_12m"]].copy()
    scores["model"] = fit.predict_proba(test)
    for name, values in baselines.predict(test).items():
        scores[name] = values
    if oracle is not None:
        scores["oracle"] = oracle(test)
    metrics = {
        who: classification_metrics(scores["churn"], scores[who], scores["revenue_12m"])
        for who in scores.columns[4:]
    }
    return SplitEvaluation(fit=fit, baselines=baselines, scores=scores, plan=plan, metrics=metrics)


# ----------------------------------------------------------------------------------------------
# Rolling-origin backtest
# ----------------------------------------------------------------------------------------------


def backtest(
    frame: pd.DataFrame,
    features: list[str],
    cfg: ModelConfig,
    horizon: int,
    oracle: Callable[[pd.DataFrame], np.ndarray] | None = None,
) -> pd.DataFrame:
    """Retrain at each of the last `cfg.backtest_folds` labelled snapshots using only data whose
    label window ends before it, and score that snapshot. Returns one row per origin and scorer
    (`origin, scorer, <metrics…>, train_from, train_to, n_test`)."""
    from churnml.models.churn import training_rows
    from churnml.models.split import backtest_plans
    from churnml.progress import track

    rows = training_rows(frame)
    plans = backtest_plans(sorted(rows["snapshot"].unique()), horizon, cfg.split, cfg.backtest_folds, cfg.seed)
    records = []
    for plan in track(plans, "backtest", total=len(plans)):
        started = time.perf_counter()
        result = evaluate_split(rows, features, plan, cfg, oracle)
        origin = plan.test[0]
        for scorer, figures in result.metrics.items():
            records.append(
                {
                    "origin": origin,
                    "scorer": scorer,
                    **figures,
                    "train_from": plan.fit[0],
                    "train_to": plan.fit[-1],
                    "n_test": len(result.scores),
                }
            )
        log.info(
            "backtest origin %s: auc %.4f on %d rows (fitted on %s to %s) in %.1fs",
            origin.strftime("%Y-%m"),
            result.metrics["model"]["auc"],
            len(result.scores),
            plan.fit[0].strftime("%Y-%m"),
            plan.fit[-1].strftime("%Y-%m"),
            time.perf_counter() - started,
        )
    return pd.DataFrame.from_records(records)


def summarize_backtest(folds: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Mean and spread (standard deviation) of every metric across origins, per scorer:
    `{"model": {"auc_mean": .., "auc_std": ..}, "baseline_rule": {...}}`."""
    out: dict[str, dict[str, float]] = {}
    for scorer, part in folds.groupby("scorer", sort=False):
        figures: dict[str, float] = {}
        for name in METRIC_NAMES:
            figures[f"{name}_mean"] = float(part[name].mean())
            figures[f"{name}_std"] = float(part[name].std(ddof=0))
        out[str(scorer)] = figures
    return out
