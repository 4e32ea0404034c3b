"""`train_models`: everything `churnml train` computes, as one pure function of the features frame.

Features the fitting snapshots have the history for → evaluation plan → the procedure (churn
model, baselines) judged at each origin → metrics on the held-out rows of all origins, under the
plan's namespace (`oot/…` or `holdout/…`; with the oracle's on the synthetic world) → the model
against the best baseline, with a paired bootstrap interval → the model that scores: the same
procedure fitted on every labelled snapshot, ranked by the winner (the LightGBM model, or the
baseline it did not beat, which then ranks while the model still gives the reasons) →
switching-cost model. Tracking, registration and export happen in `churnml.stages.train`; this
module touches no files.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any, Callable

import numpy as np
import pandas as pd

from churnml.config import ModelConfig
from churnml.evaluate import flatten
from churnml.features.dictionary import FEATURES, history_needed
from churnml.models.baselines import Ranker, fit_baselines, model_columns
from churnml.models.churn import ChurnFit, fit_churn, training_rows
from churnml.models.evaluation import SplitEvaluation, evaluate_split
from churnml.models.gate import BaselineCheck, baseline_check
from churnml.models.pyfunc import (
    REFERENCE_SNAPSHOTS,
    ChurnModel,
    SwitchingModel,
    as_text_input,
    training_reference,
)
from churnml.models.split import Plan, final_plan, plan_evaluation
from churnml.models.switching import DISCOUNT, NoOffers, SwitchingFit, fit_switching, switching_rows
from churnml.parallel import run_all

log = logging.getLogger(__name__)

@dataclass
class TrainResult:
    """What one training produced."""

    rows: pd.DataFrame  # training rows (labelled, in scope)
    plan: Plan
    evaluation: SplitEvaluation
    final: ChurnFit  # the procedure fitted on every labelled snapshot: the model that scores
    metrics: dict[str, float]  # namespaced: oot/auc (or holdout/auc), baseline_rfm/oot/auc, switching/…
    switching: SwitchingFit | None
    switching_note: str  # why the switching model is missing, or what it was fitted on
    switching_costs: pd.Series | None = None  # per account at the latest snapshot
    latest: pd.DataFrame | None = None  # in-scope accounts at the newest snapshot, by account_id
    baseline: BaselineCheck | None = None  # the model against the best baseline
    ranker: Ranker | None = None  # the baseline that ranks the list when the model did not beat it
    left_out: dict[str, int] | None = None  # features left out for want of history: months each needs


def latest_accounts(frame: pd.DataFrame) -> pd.DataFrame:
    """The in-scope accounts at the newest snapshot of `frame`, indexed by account_id."""
    latest = frame[frame["snapshot"] == frame["snapshot"].max()]
    latest = latest[latest["in_scope"].astype(bool)]
    return latest.set_index("account_id")


def train_models(
    frame: pd.DataFrame,
    features: list[str],
    cfg: ModelConfig,
    horizon: int,
    offers: pd.DataFrame,
    oracle: Callable[[pd.DataFrame], np.ndarray] | None = None,
    true_switching_cost: pd.Series | None = None,
) -> TrainResult:
    """Plan, fit and evaluate against the baselines (and the oracle), fit the switching model.

    `offers` come from `churnml.models.switching.offers`; `oracle` (held-out rows -> true churn
    probability) and `true_switching_cost` (by account) only exist on the synthetic world."""
    timings: dict[str, float] = {}
    started = time.perf_counter()
    rows = training_rows(frame)
    features, left_out = with_history(rows, features)
    plan = plan_evaluation(rows["snapshot"].unique(), horizon, cfg.split, cfg.seed)
    log.info("evaluation plan: %s (%s)", plan.describe(), plan.reason)
    scoring_plan = final_plan(plan, rows["snapshot"].unique())
    evaluation, final = run_all(
        lambda: evaluate_split(rows, features, plan, cfg, oracle),
        lambda: fit_churn(rows, features, scoring_plan, cfg),
    )
    timings["evaluate_seconds"] = time.perf_counter() - started

    ns = f"{plan.kind}/"
    metrics = flatten(evaluation.metrics, prefix=ns)
    model_auc = evaluation.metrics["model"]["auc"]
    metrics["valid/auc"] = final.valid_auc
    metrics["model/n_trees"] = float(final.n_trees)
    check = baseline_check(evaluation.scores, evaluation.metrics, cfg.gate.bootstrap_rounds,
                           cfg.gate.confidence, cfg.seed)
    ranker = None
    if check.passed:
        log.info("the model against the best baseline: %s", check.describe())
    else:
        ranker = Ranker(check.baseline, fit_baselines(rows))
        log.warning("the list is ranked by %s: %s", check.baseline, check.describe())
    metrics[f"{ns}auc_margin"] = check.gain
    metrics[f"{ns}auc_margin_low"] = check.low
    metrics[f"{ns}auc_margin_high"] = check.high
    metrics["model/ranked_by_baseline"] = float(ranker is not None)
    metrics["model/features_left_out"] = float(len(left_out))
    if "oracle" in evaluation.metrics:
        metrics[f"{ns}auc_vs_oracle"] = model_auc / evaluation.metrics["oracle"]["auc"]
    metrics.update(
        {
            "data/rows_labelled": float(len(rows)),
            "data/rows_fit": float(final.n_rows),
            "data/rows_test": float(len(evaluation.scores)),
            "data/churn_rate": float(rows["churn"].mean()),
        }
    )

    tick = time.perf_counter()
    switching, note, costs = None, "", None
    offer_rows = switching_rows(frame, offers)
    latest = latest_accounts(frame)
    try:
        switching = fit_switching(offer_rows, features, cfg)
        note = f"fitted on {switching.n_rows} competitor offers with a price gap"
        costs = switching.switching_cost(latest)
        metrics["switching/n_offers"] = float(switching.n_rows)
        metrics["switching/share_above_range"] = float(np.isinf(costs).mean()) if len(costs) else np.nan
        metrics["switching/max_discount"] = switching.max_discount
        if true_switching_cost is not None and len(costs):
            truth = true_switching_cost.reindex(costs.index)
            known = truth.notna()
            # Undefined (NaN) when every account is "above the range": nothing is ranked.
            if costs[known].nunique() > 1 and truth[known].nunique() > 1:
                metrics["switching/spearman_true_cost"] = float(
                    costs[known].corr(truth[known], method="spearman")
                )
            else:
                metrics["switching/spearman_true_cost"] = float("nan")
    except NoOffers as why:
        note = f"switching-cost model skipped: {why}"
        log.warning("%s", note)
    timings["switching_seconds"] = time.perf_counter() - tick
    metrics.update({f"timing/{k}": v for k, v in timings.items()})
    return TrainResult(
        rows=rows,
        plan=plan,
        evaluation=evaluation,
        final=final,
        metrics=metrics,
        switching=switching,
        switching_note=note,
        switching_costs=costs,
        latest=latest,
        baseline=check,
        ranker=ranker,
        left_out=left_out,
    )


def history_of(rows: pd.DataFrame) -> pd.Series:
    """Months of order data before each snapshot of `rows`, by snapshot (`history_months` when the
    frame has it, else counted from its first snapshot as one month)."""
    if "history_months" in rows.columns:
        return rows.groupby("snapshot")["history_months"].max().astype(float)
    snaps = pd.Series(sorted(rows["snapshot"].unique()))
    first = snaps.iloc[0]
    months = (snaps.dt.year - first.year) * 12 + (snaps.dt.month - first.month) + 1
    return pd.Series(months.to_numpy(dtype=float), index=snaps.to_numpy())


def with_history(rows: pd.DataFrame, features: list[str]) -> tuple[list[str], dict[str, int]]:
    """The features the model is fitted on, and those left out (name -> months of history it
    needs): a feature whose window is longer than the history of the newest labelled snapshot
    was never seen whole in fitting, while the scored month has it whole (a 12-month revenue on
    a 12-month extract): the model would score what it never learnt."""
    if rows.empty:
        return list(features), {}
    newest = float(history_of(rows).max())
    left = {f: history_needed(f) for f in features if history_needed(f) > newest}
    if left:
        longest = max(left.values())
        log.warning(
            "%d features left out: they need up to %d months of history and the newest labelled "
            "snapshot has %d (%s)", len(left), longest, int(newest), ", ".join(sorted(left)))
    return [f for f in features if f not in left], left


def fingerprint(frame: pd.DataFrame, features: list[str]) -> dict[str, Any]:
    """What the model was trained on: row counts, date range and a hash of the frame's keys,
    labels and features (the same data gives the same hash)."""
    rows = training_rows(frame)
    columns = ["account_id", "snapshot", "in_scope", "labelled", "churn", "switch", *features]
    digest = hashlib.sha256(
        pd.util.hash_pandas_object(frame[[c for c in columns if c in frame.columns]], index=False).to_numpy()
    ).hexdigest()
    return {
        "rows": int(len(frame)),
        "rows_labelled_in_scope": int(len(rows)),
        "accounts": int(frame["account_id"].nunique()),
        "snapshots": int(frame["snapshot"].nunique()),
        "snapshot_first": frame["snapshot"].min().strftime("%Y-%m"),
        "snapshot_last": frame["snapshot"].max().strftime("%Y-%m"),
        "labelled_last": rows["snapshot"].max().strftime("%Y-%m") if len(rows) else None,
        "churn_rate": float(rows["churn"].mean()) if len(rows) else None,
        "features": len(features),
        "sha256": digest,
    }


def recipe(features: list[str], cfg: ModelConfig, labels: dict[str, Any] | None, horizon: int) -> dict[str, Any]:
    """The procedure a churn model comes from: the features asked for, the LightGBM parameters,
    the calibration, the label definition (`labels` config as a dict) and the horizon. The same
    recipe on newer data is the same model refreshed (`churnml.models.gate.same_recipe`)."""
    out = {"features": sorted(features), "lgbm": asdict(cfg.churn), "calibration": cfg.calibration,
           "horizon": horizon}
    if labels is not None:
        out["labels"] = dict(labels)
    return out


def identity(data_fingerprint: dict[str, Any], model_recipe: dict[str, Any], cfg: ModelConfig,
             code: str) -> str:
    """A hash of what decides a trained model: the data, the recipe, the rest of the model's
    settings (seed, plan, gate, switching model) and the code. Training again with the same
    identity gives the same model."""
    settings = {k: v for k, v in asdict(cfg).items() if k not in ("num_threads",)}
    blob = json.dumps([data_fingerprint.get("sha256"), model_recipe, settings, code], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def build_churn_model(
    result: TrainResult,
    cfg: ModelConfig,
    families: dict[str, str],
    data_fingerprint: dict[str, Any],
    model_recipe: dict[str, Any] | None = None,
) -> ChurnModel:
    """The registered churn model of a training: the measured model with its figures and metadata
    (`model_recipe`: `recipe`, by default without a label definition)."""
    plan = result.plan
    held_out = {k: v for k, v in result.metrics.items() if f"{plan.kind}/" in k}
    info = {
        "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "horizon_months": plan.horizon,
        "evaluation_plan": plan.kind,
        "evaluation_plan_name": plan.name,
        "evaluation_reason": plan.reason,
        "test_snapshots": [s.strftime("%Y-%m") for s in plan.test],
        "fitted_from": min(result.final.fitted_snapshots).strftime("%Y-%m"),
        "fitted_to": max(result.final.fitted_snapshots).strftime("%Y-%m"),
        "fitted_rows": result.final.n_rows,
        "evaluation_fitted_to": max(result.evaluation.fit.fitted_snapshots).strftime("%Y-%m"),
        "origins": [s.strftime("%Y-%m") for s in plan.test] if plan.kind == "oot" else [],
        "ranked_by": result.baseline.ranked_by if result.baseline else "model",
        "features_left_out": dict(result.left_out or {}),
        "n_trees": result.final.n_trees,
        "calibration": cfg.calibration,
        "recipe": model_recipe or recipe(result.final.features, cfg, None, plan.horizon),
        "fingerprint": data_fingerprint,
        "baseline_check": result.baseline.as_dict() if result.baseline else None,
        # Drift is measured against the latest labelled snapshots only (like with like).
        "psi_reference_snapshots": [
            pd.Timestamp(s).strftime("%Y-%m")
            for s in np.sort(result.rows["snapshot"].unique())[-REFERENCE_SNAPSHOTS:]
        ],
    }
    group_level = [f for f in result.final.features if f in FEATURES and FEATURES[f].grain != "account"]
    reference = training_reference(
        result.rows, result.final.features, result.final.levels,
        recent=REFERENCE_SNAPSHOTS, group_level=group_level,
    )
    fams = {f: families.get(f, "other") for f in result.final.features}
    return ChurnModel(result.final, result.evaluation.fit, held_out, fams, reference, info, ranker=result.ranker,
                      origin_fits=result.evaluation.fits)


def build_switching_model(result: TrainResult) -> SwitchingModel | None:
    """The registered switching model, or None when it was skipped."""
    if result.switching is None:
        return None
    metrics = {k: v for k, v in result.metrics.items() if k.startswith("switching/")}
    info = {
        "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "grid_step": result.switching.step,
        "max_discount": result.switching.max_discount,
        "n_offers": result.switching.n_rows,
    }
    return SwitchingModel(result.switching, metrics, info)


def input_example(result: TrainResult, n: int = 5) -> pd.DataFrame:
    """A few rows of feature columns only (categoricals as text) for the churn model's signature."""
    latest = result.rows[result.rows["snapshot"] == result.rows["snapshot"].max()].head(n)
    columns = model_columns(result.final.features, result.ranker)
    return as_text_input(latest, columns, result.final.levels).reset_index(drop=True)



def switching_example(result: TrainResult, n: int = 5) -> pd.DataFrame:
    """Input example of the switching model: account features plus `offer_discount`."""
    latest = result.rows[result.rows["snapshot"] == result.rows["snapshot"].max()].head(n)
    fit = result.switching
    example = as_text_input(latest, fit.features, fit.levels).reset_index(drop=True)
    example[DISCOUNT] = np.linspace(0.0, fit.max_discount, len(example))
    return example


@dataclass
class ModelInputs:
    """What the model stages read: the features frame and what goes with it."""

    frame: pd.DataFrame
    features: list[str]
    offers: pd.DataFrame  # account_id, snapshot, offer_discount
    horizon: int
    dictionary: pd.DataFrame  # name, family, description, unit, kind (churnml.features.dictionary)
    oracle: Callable[[pd.DataFrame], np.ndarray] | None = None  # synthetic world only
    true_switching_cost: pd.Series | None = None  # synthetic world only, by account

    @property
    def families(self) -> dict[str, str]:
        return dict(zip(self.dictionary["name"], self.dictionary["family"]))
