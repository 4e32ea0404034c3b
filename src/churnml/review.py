"""Reviewing the champion: its metrics as a table, its held-out evaluation scored again, the
account worth telling the story of, and one account's risk over time. Notebook 2 is built on these."""

from __future__ import annotations

from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd

from churnml.errors import ConfigError
from churnml.evaluate import METRIC_NAMES
from churnml.models.evaluation import SplitEvaluation


def metrics_table(metrics: Mapping[str, float], prefix: str | None = None) -> pd.DataFrame:
    """Namespaced metrics (`oot/auc`, `baseline_rfm/oot/auc`, `oracle/oot/auc`, ...) as a table:
    one row per metric of `churnml.evaluate.METRIC_NAMES`, one column per scorer (model first).
    `prefix` is the evaluation plan's namespace (default: `holdout/` when the metrics have it,
    else `oot/`)."""
    if prefix is None:
        prefix = "holdout/" if any("holdout/" in k for k in metrics) else "oot/"
    table: dict[str, dict[str, float]] = {}
    for key, value in metrics.items():
        head, _, name = key.rpartition(prefix)
        if name not in METRIC_NAMES or (head and not head.endswith("/")):
            continue
        scorer = head.rstrip("/") or "model"
        table.setdefault(scorer, {})[name] = float(value)
    scorers = sorted(table, key=lambda s: (s != "model", s.startswith("oracle"), s))
    return pd.DataFrame({s: table[s] for s in scorers}).reindex(list(METRIC_NAMES))


def champion_evaluation(
    frame: pd.DataFrame,
    churn_model: Any,
    oracle: Callable[[pd.DataFrame], np.ndarray] | None = None,
) -> SplitEvaluation:
    """The champion's evaluation, scored again: the held-out rows of its plan (at
    `churn_model.info["test_snapshots"]`), each origin's scored by the model fitted for it (which
    never saw them) and by the baselines fitted on its fitting rows (and the oracle, if given).

    Raises `ConfigError` when `frame` has no labelled rows at those snapshots (other data)."""
    from churnml.models.churn import training_rows
    from churnml.models.evaluation import evaluate_fitted

    test = [pd.Timestamp(f"{m}-01") for m in churn_model.info.get("test_snapshots", [])]
    rows = training_rows(frame)
    if not test or not rows["snapshot"].isin(test).any():
        months = ", ".join(churn_model.info.get("test_snapshots", [])) or "none recorded"
        raise ConfigError(
            f"the champion's held-out snapshots ({months}) have no labelled rows in these data: "
            "review it on the data it was trained on, or retrain with `churnml train`"
        )
    from churnml.models.evaluation import evaluate_origin_fits
    from churnml.models.split import oot_plan

    origin_fits = getattr(churn_model, "origin_fits", None)
    if origin_fits and all(getattr(f, "plan", None) is not None for f in origin_fits):
        return evaluate_origin_fits(rows, origin_fits, oracle)
    fit = churn_model.evaluation
    # Models from before evaluation plans carry none: they were tested out-of-time.
    plan = getattr(fit, "plan", None) or oot_plan(sorted(fit.fitted_snapshots), test, fit.horizon)
    return evaluate_fitted(rows, fit, plan, oracle)


def story_account(scores: pd.DataFrame, top: float = 0.1) -> str:
    """An account worth telling the story of: among held-out rows that churned, the one with
    the most revenue that the model put in the top `top` of its snapshot's list (else the
    churned account with the most revenue)."""
    churned = scores[scores["churn"] == 1]
    if churned.empty:
        raise ValueError("story_account: no held-out row churned")
    rank = scores.groupby("snapshot")["model"].rank(ascending=False, pct=True)
    flagged = churned[rank.loc[churned.index] <= top]
    pool = flagged if len(flagged) else churned
    return str(pool.sort_values("revenue_12m", ascending=False)["account_id"].iloc[0])


def risk_history(
    frame: pd.DataFrame,
    churn_model: Any,
    account_id: str,
    oracle: Callable[[pd.DataFrame], np.ndarray] | None = None,
    n_reasons: int = 3,
) -> pd.DataFrame:
    """One account's churn risk at each snapshot where it was in scope: the registered model's
    probability (`churn_probability`, what the risk list shows) and its top reasons, the
    evaluation model's (`evaluation_probability`, fitted before the held-out test), the true
    risk when an `oracle` is given, and the label (`churn`, NaN when not yet known)."""
    from churnml.scoring.reasons import top_reasons
    from churnml.scoring.risk_list import model_families

    rows = frame[(frame["account_id"].astype(str) == str(account_id)) & frame["in_scope"].astype(bool)]
    if rows.empty:
        raise KeyError(f"risk_history: account {account_id!r} is never in scope in the features frame")
    out = rows[["snapshot", "revenue_12m", "churn"]].copy()
    out["churn_probability"] = churn_model.predict_proba(rows)
    out["evaluation_probability"] = churn_model.evaluation.predict_proba(rows)
    if oracle is not None:
        out["oracle"] = oracle(rows)
    reasons = top_reasons(churn_model.contributions(rows), rows, model_families(churn_model), n=n_reasons)
    for k in range(n_reasons):
        out[f"reason_{k + 1}"] = [r[k].text if len(r) > k else "" for r in reasons]
    return out.reset_index(drop=True)
