"""The churn model against the baselines on an evaluation plan, and the rolling-origin backtest."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

from churnml.config import ModelConfig
from churnml.evaluate import classification_metrics, month_auc_spread
from churnml.models.baselines import Baselines, fit_baselines
from churnml.models.churn import ChurnFit, fit_churn, training_rows
from churnml.models.split import Plan, backtest_plans, origin_plans
from churnml.parallel import run_all
from churnml.progress import track

log = logging.getLogger(__name__)


# ----------------------------------------------------------------------------------------------
# The model against the baselines on one evaluation plan
# ----------------------------------------------------------------------------------------------


@dataclass
class SplitEvaluation:
    """The procedure judged on one evaluation plan: the model fitted at each origin, and the
    scores of everyone on the held-out rows of all origins (pooled: the same rows for all)."""

    fit: ChurnFit  # the first origin's model: it never saw any of the held-out rows
    baselines: Baselines  # the first origin's baselines
    scores: pd.DataFrame  # held-out rows: account_id, snapshot, churn, revenue_12m, model, baseline_*
    plan: Plan
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    fits: list[ChurnFit] = field(default_factory=list)  # one per origin, in the plan's test order


def evaluate_split(
    frame: pd.DataFrame,
    features: list[str],
    plan: Plan,
    cfg: ModelConfig,
    oracle: Callable[[pd.DataFrame], np.ndarray] | None = None,
) -> SplitEvaluation:
    """Judge the procedure on `plan`: at each origin (`origin_plans`: every test snapshot of an
    out-of-time plan, the holdout as one) fit the churn model and the baselines on the snapshots
    labelled by it, score its held-out rows with all of them (and the oracle, when given: a
    function of the held-out rows); the metrics are on all origins' rows pooled, but the AUC is
    the mean of the within-month AUCs (a list is ranked one month at a time; for an out-of-time
    plan one month is one origin) and `auc_std` its spread across the months."""
    rows = training_rows(frame)
    origins = origin_plans(plan, rows["snapshot"].unique())
    fits = run_all(*(lambda p=p: fit_churn(rows, features, p, cfg) for p in origins))
    parts = [_score_origin(rows, fit, p, oracle) for fit, p in zip(fits, origins)]
    return _pooled(parts, fits, plan)


def evaluate_fitted(
    frame: pd.DataFrame,
    fit: ChurnFit,
    plan: Plan,
    oracle: Callable[[pd.DataFrame], np.ndarray] | None = None,
) -> SplitEvaluation:
    """Score the held-out rows of `plan` with a churn model that never saw them (e.g. the model
    a registered champion carries) and with the baselines fitted at each origin; compute the
    metrics."""
    rows = training_rows(frame)
    origins = origin_plans(plan, rows["snapshot"].unique())
    parts = [_score_origin(rows, fit, p, oracle) for p in origins]
    return _pooled(parts, [fit] * len(origins), plan)


def evaluate_origin_fits(
    frame: pd.DataFrame,
    fits: list[ChurnFit],
    oracle: Callable[[pd.DataFrame], np.ndarray] | None = None,
) -> SplitEvaluation:
    """Score each origin's held-out rows again with the model fitted for it (each fit's own
    plan) and the baselines fitted on its rows: the evaluation a training computed, reproduced
    from the models a registered champion carries."""
    rows = training_rows(frame)
    parts = [_score_origin(rows, fit, fit.plan, oracle) for fit in fits]
    return _pooled(parts, fits, fits[0].plan)


def _score_origin(rows: pd.DataFrame, fit: ChurnFit, plan: Plan, oracle) -> tuple[pd.DataFrame, Baselines]:
    """The held-out rows of one origin scored by `fit` and by the baselines fitted on its rows."""
    baselines = fit_baselines(rows[plan.fit_mask(rows)])
    test = rows[plan.test_mask(rows)]
    scores = test[["account_id", "snapshot", "churn", "revenue_12m"]].copy()
    scores["model"] = fit.predict_proba(test)
    for name, values in baselines.predict(test).items():
        scores[name] = values
    if oracle is not None:
        scores["oracle"] = oracle(test)
    return scores, baselines


def _pooled(parts: list, fits: list[ChurnFit], plan: Plan) -> SplitEvaluation:
    scores = pd.concat([p[0] for p in parts], ignore_index=True)
    metrics = {}
    for who in scores.columns[4:]:
        metrics[who] = classification_metrics(scores["churn"], scores[who], scores["revenue_12m"], scores["snapshot"])
        metrics[who]["auc_std"] = month_auc_spread(scores["churn"], scores[who], scores["snapshot"])
    return SplitEvaluation(fit=fits[0], baselines=parts[0][1], scores=scores, plan=plan, metrics=metrics,
                           fits=list(fits))


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
