"""Metrics of a churn score against the labels (split evaluation and the backtest are in
`churnml.models.evaluation`).

Every metric takes the labels `y` (0/1), a score `p` (higher = more likely to churn; a
probability for Brier and calibration error) and, where it matters, the revenue of each row.
Ranked-list metrics (lift, revenue capture) treat tied scores fairly: a group of equal scores
that straddles the cut counts in proportion to the part of it that falls inside, which is the
expected value under a random order of the ties (a yes/no rule scores the same however its
rows happen to be sorted).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

TOP_FRACTION = 0.10
CALIBRATION_BINS = 10
METRIC_NAMES = ("auc", "pr_auc", "brier", "ece", "lift_top10", "revenue_capture_10")


def roc_auc(y, p) -> float:
    """ROC AUC; NaN when only one class is present (the metric is undefined there)."""
    y = np.asarray(y, dtype=float)
    if len(np.unique(y)) < 2:
        return float("nan")
    return float(roc_auc_score(y, np.asarray(p, dtype=float)))


def month_auc(y, p, months) -> float:
    """Mean over the months in `months` (one per row) of the ROC AUC within each month: how well
    a score orders one month's list (months where only one class occurs are skipped; NaN when
    none remains). With one month it is the plain AUC."""
    frame = pd.DataFrame({"y": np.asarray(y, dtype=float), "p": np.asarray(p, dtype=float),
                          "m": np.asarray(months)})
    values = [roc_auc(part["y"], part["p"]) for _, part in frame.groupby("m", sort=True)]
    values = [v for v in values if np.isfinite(v)]
    return float(np.mean(values)) if values else float("nan")


def month_auc_spread(y, p, months) -> float:
    """Standard deviation across the months of the within-month AUC (0 with one month)."""
    frame = pd.DataFrame({"y": np.asarray(y, dtype=float), "p": np.asarray(p, dtype=float),
                          "m": np.asarray(months)})
    values = [roc_auc(part["y"], part["p"]) for _, part in frame.groupby("m", sort=True)]
    values = [v for v in values if np.isfinite(v)]
    return float(np.std(values)) if values else float("nan")


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


def classification_metrics(y, p, revenue, months=None) -> dict[str, float]:
    """All the metrics of one scored list: auc, pr_auc, brier, ece, lift_top10, revenue_capture_10.
    With `months` (one per row) the AUC is the mean of the within-month AUCs (`month_auc`): a
    list is ranked one month at a time."""
    return {
        "auc": roc_auc(y, p) if months is None else month_auc(y, p, months),
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


def backtest_metrics(folds: pd.DataFrame) -> dict[str, float]:
    """Namespaced summary metrics: `backtest/auc_mean`, `baseline_rule/backtest/auc_std`, …,
    plus the model's AUC as a fraction of the oracle's and its margin over the better baseline."""
    out = flatten(summarize_backtest(folds), prefix="backtest/")
    by_origin = folds.pivot(index="origin", columns="scorer", values="auc")
    from churnml.models.baselines import NAMES as BASELINES

    baselines = [c for c in BASELINES if c in by_origin.columns]
    margin = by_origin["model"] - by_origin[baselines].max(axis=1)
    out["backtest/auc_margin_mean"] = float(margin.mean())
    out["backtest/auc_margin_std"] = float(margin.std(ddof=0))
    if "oracle" in by_origin.columns:
        ratio = by_origin["model"] / by_origin["oracle"]
        out["backtest/auc_vs_oracle_mean"] = float(ratio.mean())
        out["backtest/auc_vs_oracle_std"] = float(ratio.std(ddof=0))
    out["backtest/origins"] = float(len(by_origin))
    return out
