"""The churn model against the baselines on an evaluation plan, and the rolling-origin backtest."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

from churnml.config import ModelConfig
from churnml.evaluate import classification_metrics
from churnml.models.baselines import Baselines, fit_baselines
from churnml.models.churn import ChurnFit, fit_churn, training_rows
from churnml.models.split import Plan, backtest_plans
from churnml.progress import track

log = logging.getLogger(__name__)


# ----------------------------------------------------------------------------------------------
# The model against the baselines on one evaluation plan
# ----------------------------------------------------------------------------------------------


@dataclass
class SplitEvaluation:
    """The fitted churn model of one plan and the scores of everyone on its held-out rows."""

    fit: ChurnFit
    baselines: Baselines
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
    rows = training_rows(frame)
    fit = fit_churn(rows, features, plan, cfg)
    return evaluate_fitted(rows, fit, plan, oracle)


def evaluate_fitted(
    frame: pd.DataFrame,
    fit: ChurnFit,
    plan: Plan,
    oracle: Callable[[pd.DataFrame], np.ndarray] | None = None,
) -> SplitEvaluation:
    """Score the held-out rows of `plan` with a churn model that never saw them (e.g. the model
    a registered champion carries) and with the baselines fitted on the plan's fitting rows;
    compute the metrics. What `evaluate_split` does after fitting."""
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
