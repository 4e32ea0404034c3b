"""The champion gate: does a new churn model take its data source's alias `champion`, or `challenger`?

A model earns its place twice over, both measured in the same run on the same held-out rows of
the same evaluation plan, rows neither was fitted on:
1. against the baselines (rule, RFM, recency, BG/NBD): the list is ranked by the model only when
   it beats the best of them beyond the noise (`BaselineCheck`, a paired bootstrap interval of the
   AUC difference); a tie or a loss goes to that baseline, which then ranks the list (the
   registered model carries it) — every user with labelled data gets the best list it allows;
2. against the current champion of the same data source: its AUC must be at least the
   champion's. The champion is measured with the model it carries when that model never saw
   those rows (the same plan: for an out-of-time test, label windows that end before it; for a
   holdout, the same held-out accounts); otherwise (the test moved back in time, another plan or
   horizon) its recipe — features, parameters, calibration — is refitted on this run's plan.
The first model of a data source becomes its champion.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from churnml.config import LgbmParams, ModelConfig
from churnml.data.source import CHALLENGER, CHAMPION
from churnml.evaluate import month_auc
from churnml.models.baselines import NAMES as BASELINES
from churnml.models.evaluation import evaluate_split
from churnml.models.split import Plan

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class BaselineCheck:
    """The model's AUC against the best baseline's on the same held-out rows, with a paired
    bootstrap interval of the difference (accounts resampled). The list is ranked by the model
    only when the whole interval lies above zero; a difference inside the noise is a tie, and a
    tie goes to the simpler model, the baseline."""

    auc: float
    baseline: str  # name of the best baseline
    baseline_auc: float
    low: float = float("nan")  # interval of auc - baseline_auc
    high: float = float("nan")
    confidence: float = 0.95

    @property
    def gain(self) -> float:
        return self.auc - self.baseline_auc

    @property
    def passed(self) -> bool:
        """Whether the model ranks the list: it beats the best baseline beyond the noise (or
        there is no baseline to beat)."""
        if not np.isfinite(self.auc):
            return False
        if not np.isfinite(self.baseline_auc):
            return True
        return bool(np.isfinite(self.low) and self.low > 0)

    @property
    def verdict(self) -> str:
        """"wins", "tie" or "loses": the model against the best baseline."""
        if self.passed:
            return "wins"
        return "loses" if np.isfinite(self.high) and self.high < 0 else "tie"

    @property
    def ranked_by(self) -> str:
        """Who ranks the list: "model", or the best baseline's name."""
        return "model" if self.passed else self.baseline

    def interval(self) -> str:
        return f"{self.confidence:.0%} interval {self.low:+.4f} to {self.high:+.4f}"

    def describe(self) -> str:
        if not np.isfinite(self.baseline_auc):
            return f"AUC {self.auc:.4f}; no baseline could be measured: the model ranks the list"
        head = (f"AUC {self.auc:.4f} against the best baseline, {self.baseline} ({self.baseline_auc:.4f}): "
                f"difference {self.gain:+.4f} ({self.interval()})")
        if self.verdict == "wins":
            return f"{head}: the model wins and ranks the list"
        if self.verdict == "loses":
            return f"{head}: the baseline wins and ranks the list"
        return f"{head}: a tie within the noise, so the simpler model, the baseline, ranks the list"

    def as_dict(self) -> dict:
        return {"auc": self.auc, "baseline": self.baseline, "baseline_auc": self.baseline_auc,
                "low": self.low, "high": self.high, "confidence": self.confidence,
                "passed": self.passed, "verdict": self.verdict, "ranked_by": self.ranked_by,
                "text": self.describe()}


def paired_auc_difference(y, a, b, groups, rounds: int, confidence: float, seed: int,
                          months=None) -> tuple[float, float]:
    """Percentile interval of AUC(a) − AUC(b) on the same rows, by a paired bootstrap that
    resamples whole groups (accounts: an account's rows at several snapshots move together).
    With `months`, the AUC is the mean of the within-month AUCs, as `churnml.evaluate.month_auc`.
    Returns (low, high); NaN when a resample cannot be measured or `rounds` is 0."""
    y = np.asarray(y, dtype=float)
    if rounds <= 0 or len(np.unique(y)) < 2:
        return float("nan"), float("nan")
    codes, n_groups = pd.factorize(pd.Series(groups), sort=True)[0], int(pd.Series(groups).nunique())
    rng = np.random.default_rng(seed)
    # Each round's weight of a group is how often it was drawn: a multinomial over the groups.
    counts = rng.multinomial(n_groups, np.full(n_groups, 1.0 / n_groups), size=rounds).astype(float)
    weights = counts[:, codes]  # (rounds, rows)
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    month = np.zeros(len(y)) if months is None else pd.factorize(pd.Series(months), sort=True)[0]
    per_month = []
    for m in np.unique(month):
        at = month == m
        if len(np.unique(y[at])) == 2:
            per_month.append(_weighted_auc(y[at], a[at], weights[:, at]) - _weighted_auc(y[at], b[at], weights[:, at]))
    if not per_month:
        return float("nan"), float("nan")
    with np.errstate(invalid="ignore"):
        diff = np.nanmean(np.vstack(per_month), axis=0) if len(per_month) > 1 else per_month[0]
    diff = diff[np.isfinite(diff)]
    if not len(diff):
        return float("nan"), float("nan")
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(diff, [tail, 1.0 - tail])
    return float(low), float(high)


def _weighted_auc(y: np.ndarray, score: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """AUC of `score` under each row of row weights `weights` (rounds × rows), ties counted half:
    the weighted share of (churned, retained) pairs that the score orders right."""
    order = np.argsort(score, kind="mergesort")
    s, pos = score[order], y[order] == 1
    w = weights[:, order]
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])  # groups of equal scores, in order
    neg_in = np.add.reduceat(np.where(pos, 0.0, w), starts, axis=1)
    pos_in = np.add.reduceat(np.where(pos, w, 0.0), starts, axis=1)
    below = np.cumsum(neg_in, axis=1) - neg_in  # retained rows with a lower score than the group
    right = (pos_in * (below + 0.5 * neg_in)).sum(axis=1)
    total = pos_in.sum(axis=1) * neg_in.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, right / total, np.nan)


def baseline_check(scores: pd.DataFrame, metrics: dict[str, dict[str, float]], rounds: int = 1000,
                   confidence: float = 0.95, seed: int = 0) -> BaselineCheck:
    """The model (`scores["model"]`) against the best baseline in `metrics` on the same held-out
    `scores` rows (`account_id`, `churn`, a column per scorer), with the paired interval."""
    found = [(b, metrics[b]["auc"]) for b in BASELINES if b in metrics and np.isfinite(metrics[b]["auc"])]
    if not found:
        return BaselineCheck(metrics["model"]["auc"], "none", float("nan"))
    name, auc = max(found, key=lambda item: item[1])
    low, high = paired_auc_difference(scores["churn"], scores["model"], scores[name], scores["account_id"],
                                      rounds, confidence, seed, scores["snapshot"])
    return BaselineCheck(metrics["model"]["auc"], name, auc, low, high, confidence)


@dataclass
class GateDecision:
    """Which alias the new version takes and why."""

    alias: str  # CHAMPION | CHALLENGER (the data source's suffix is added by the registry)
    new_auc: float
    champion_auc: float | None
    champion_version: str | None
    method: str  # how the champion was measured
    test_snapshots: tuple[pd.Timestamp, ...]
    plan: str = "oot"
    baseline: BaselineCheck | None = None

    @property
    def compared(self) -> str:
        return ",".join(s.strftime("%Y-%m") for s in self.test_snapshots)

    def describe(self) -> str:
        """The decision and its reason in one sentence, for the console and the run's tags."""
        beats = ""
        if self.baseline is not None and np.isfinite(self.baseline.baseline_auc):
            if self.baseline.passed:
                beats = (f"; it beats the best baseline, {self.baseline.baseline}, by {self.baseline.gain:+.4f} "
                         f"({self.baseline.interval()})")
            else:
                beats = (f"; ranked by {self.baseline.baseline}: the model's {self.baseline.gain:+.4f} over it "
                         f"is {'a tie' if self.baseline.verdict == 'tie' else 'a loss'} ({self.baseline.interval()})")
        if self.champion_version is None:
            return f"no champion yet: the new model takes @{self.alias} ({self.plan} auc {self.new_auc:.4f}{beats})"
        if self.champion_auc is None:
            return (
                f"champion version {self.champion_version} cannot be measured here ({self.method}): "
                f"the new model takes @{self.alias}{beats}"
            )
        return (
            f"new {self.plan} auc {self.new_auc:.4f} vs champion version {self.champion_version} "
            f"{self.champion_auc:.4f} on {self.compared} ({self.method}): the new model takes @{self.alias}{beats}"
        )

    def as_tags(self) -> dict[str, str]:
        return {
            "gate.alias": self.alias,
            "gate.champion_version": str(self.champion_version),
            "gate.method": self.method,
            "gate.test_snapshots": self.compared,
            "gate.plan": self.plan,
            "gate.reason": self.describe(),
            "gate.beats_baseline": str(self.baseline.passed if self.baseline else True).lower(),
        }

    def as_metrics(self) -> dict[str, float]:
        out = {"gate/new_auc": self.new_auc}
        if self.champion_auc is not None:
            out["gate/champion_auc"] = self.champion_auc
        if self.baseline is not None and np.isfinite(self.baseline.baseline_auc):
            out["gate/best_baseline_auc"] = self.baseline.baseline_auc
        return out


def champion_gate(
    new_auc: float,
    champion,  # (version, ChurnModel) or None
    rows: pd.DataFrame,
    plan: Plan,
    cfg: ModelConfig,
    baseline: BaselineCheck | None = None,
    scores: pd.DataFrame | None = None,
) -> GateDecision:
    """Decide the alias of a new churn model whose ranking (the model's, or the baseline's that
    ranks) has AUC `new_auc` on the held-out rows of `plan`, given its `baseline` check. `rows`
    are this run's training rows (`churnml.models.churn.training_rows`), `scores` this run's
    held-out scores (`SplitEvaluation.scores`); `champion` is the current champion of the same
    data source."""
    test = tuple(plan.test)
    if champion is None:
        return GateDecision(CHAMPION, new_auc, None, None, "first model", test, plan.kind, baseline)
    version, model = champion
    held_out = rows[plan.test_mask(rows)]
    ranked_by = getattr(model, "ranked_by", "model")
    if ranked_by != "model" and scores is not None and ranked_by in scores.columns:
        # A champion ranked by a baseline is that baseline, refitted on this plan's origins.
        champion_auc = month_auc(scores["churn"], scores[ranked_by], scores["snapshot"])
        alias = CHAMPION if new_auc >= champion_auc else CHALLENGER
        return GateDecision(alias, new_auc, champion_auc, version, f"champion ranks by {ranked_by}", test,
                            plan.kind, baseline)
    missing = [c for c in model.features if c not in rows.columns]
    if missing:
        # The same source with other features (a table dropped, features=orders_only): the two
        # cannot be compared on these rows, and the new one is the one that fits the data.
        method = f"champion needs features this data does not have: {missing[:5]}"
        return GateDecision(CHAMPION, new_auc, None, version, method, test, plan.kind, baseline)
    evaluation = model.evaluation
    seen_plan = getattr(evaluation, "plan", None)
    untouched = (
        plan.same_holdout(seen_plan)
        and evaluation.horizon == plan.horizon
        and (plan.kind != "oot" or evaluation.label_end <= min(test))
    )
    if untouched:
        method = "champion's evaluated model"
        champion_scores = evaluation.predict_proba(held_out)
    else:
        # The champion's procedure (features, parameters, calibration) judged at this plan's origins.
        method = "champion's recipe refitted on this plan"
        recipe = model.info.get("recipe", {})
        lgbm = LgbmParams(**recipe.get("lgbm", {}))
        champion_cfg = replace(cfg, churn=lgbm, calibration=recipe.get("calibration", cfg.calibration))
        held_out = evaluate_split(rows, list(model.fit.features), plan, champion_cfg).scores
        champion_scores = held_out["model"].to_numpy()
    champion_auc = month_auc(held_out["churn"], champion_scores, held_out["snapshot"])
    alias = CHAMPION if new_auc >= champion_auc else CHALLENGER
    return GateDecision(alias, new_auc, champion_auc, version, method, test, plan.kind, baseline)
