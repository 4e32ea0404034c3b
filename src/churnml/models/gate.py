"""The champion gate: does a new churn model take its data source's alias `champion`, or `challenger`?

A model earns its place twice over, both measured in the same run on the same held-out rows of
the same evaluation plan, rows neither was fitted on:
1. against the baselines (rule, RFM, recency, BG/NBD): the list is ranked by the model only when
   it beats the best of them beyond the noise (`BaselineCheck`, a paired bootstrap interval of the
   AUC difference); a tie or a loss goes to that baseline, which then ranks the list (the
   registered model carries it) — every user with labelled data gets the best list it allows;
2. against the current champion of the same data source: it takes the champion's place only
   when it wins beyond the noise (the same paired interval, new minus champion, above zero); a
   tie keeps the champion. The champion is measured with the model it carries when that model
   never saw those rows (the same plan: for an out-of-time test, label windows that end before
   it; for a holdout, the same held-out accounts); otherwise (the test moved on, another plan) its
   recipe — features, parameters, calibration — is refitted on this run's plan. The champion's
   own recipe fitted on newer data is the champion refreshed and takes its place; a model that
   cannot be compared with it (it predicts another horizon, uses another label definition, or
   the champion needs features this run did not build) is challenger, and
   `model.gate.take_champion=true` promotes it on purpose.
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
    stacked = np.vstack(per_month)
    # A resample with no churner (or no stayer) in any month has no difference: left out below.
    measured = np.isfinite(stacked).sum(axis=0)
    diff = np.where(measured > 0, np.nansum(stacked, axis=0) / np.maximum(measured, 1), np.nan)
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
    method: str  # how the champion was measured, or why it could not be
    test_snapshots: tuple[pd.Timestamp, ...]
    plan: str = "oot"
    baseline: BaselineCheck | None = None
    low: float = float("nan")  # interval of new_auc - champion_auc (paired bootstrap)
    high: float = float("nan")
    confidence: float = 0.95
    forced: bool = False  # made champion on purpose (model.gate.take_champion)

    @property
    def compared(self) -> str:
        return ",".join(s.strftime("%Y-%m") for s in self.test_snapshots)

    @property
    def measured(self) -> bool:
        """Whether the champion was measured on this run's held-out rows."""
        return self.champion_auc is not None

    def _against(self) -> str:
        if not self.measured:
            return ""
        interval = (f", {self.confidence:.0%} interval of the difference {self.low:+.4f} to {self.high:+.4f}"
                    if np.isfinite(self.low) else "")
        return (f"new {self.plan} auc {self.new_auc:.4f} vs champion version {self.champion_version} "
                f"{self.champion_auc:.4f} on {self.compared} ({self.method}{interval})")

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
        if self.forced:
            why = self._against() or f"champion version {self.champion_version} {self.method}"
            return f"{why}: the new model takes @{self.alias} on purpose (model.gate.take_champion=true){beats}"
        if not self.measured:
            if self.alias == CHAMPION:  # the champion's own recipe on newer data
                return f"{self.method}: the new model takes @{self.alias}{beats}"
            return (f"champion version {self.champion_version} cannot be compared with it ({self.method}): "
                    f"the new model is @{self.alias} and the champion stays; {PROMOTE_HINT}{beats}")
        if self.alias == CHAMPION:
            return f"{self._against()}: better beyond the noise, the new model takes @{self.alias}{beats}"
        outcome = "a tie keeps the champion" if not np.isfinite(self.high) or self.high >= 0 else "the champion is better"
        return f"{self._against()}: {outcome}, the new model is @{self.alias}; {PROMOTE_HINT}{beats}"

    def as_tags(self) -> dict[str, str]:
        return {
            "gate.alias": self.alias,
            "gate.champion_version": str(self.champion_version),
            "gate.method": self.method,
            "gate.test_snapshots": self.compared,
            "gate.plan": self.plan,
            "gate.reason": self.describe(),
            "gate.beats_baseline": str(self.baseline.passed if self.baseline else True).lower(),
            "gate.forced": str(self.forced).lower(),
        }

    def as_metrics(self) -> dict[str, float]:
        out = {"gate/new_auc": self.new_auc}
        if self.champion_auc is not None:
            out["gate/champion_auc"] = self.champion_auc
            if np.isfinite(self.low):
                out["gate/margin_low"], out["gate/margin_high"] = self.low, self.high
        if self.baseline is not None and np.isfinite(self.baseline.baseline_auc):
            out["gate/best_baseline_auc"] = self.baseline.baseline_auc
        return out


PROMOTE_HINT = "to make it champion on purpose, train it again with model.gate.take_champion=true"


def same_recipe(new: dict, old: dict) -> bool:
    """Whether two recipes (features asked for, LightGBM parameters, calibration, label
    definition, horizon) are the same procedure. A recipe recorded before all of these were is
    never the same."""
    keys = ("features", "lgbm", "calibration", "labels", "horizon")
    return all(k in new and k in old for k in keys) and all(new[k] == old[k] for k in keys)


def not_comparable(new: dict, old: dict) -> str | None:
    """Why a champion with recipe `old` cannot be judged on the rows of a run with recipe
    `new` (another horizon or label definition: the two predict different things), or None."""
    if "horizon" in old and old["horizon"] != new.get("horizon"):
        return f"it predicts churn within {old['horizon']} months, this run within {new.get('horizon')}"
    if "labels" in old and "labels" in new and old["labels"] != new["labels"]:
        changed = sorted(k for k in set(old["labels"]) | set(new["labels"])
                         if old["labels"].get(k) != new["labels"].get(k))
        return f"its churn label was defined otherwise (labels.{', labels.'.join(changed)})"
    return None


def champion_gate(
    new_auc: float,
    champion,  # (version, ChurnModel) or None
    rows: pd.DataFrame,
    plan: Plan,
    cfg: ModelConfig,
    baseline: BaselineCheck | None = None,
    scores: pd.DataFrame | None = None,
    recipe: dict | None = None,
) -> GateDecision:
    """Decide the alias of a new churn model whose ranking (the model's, or the baseline's that
    ranks) has AUC `new_auc` on the held-out rows of `plan`, given its `baseline` check and its
    `recipe` (`churnml.models.training.recipe`). `rows` are this run's training rows
    (`churnml.models.churn.training_rows`), `scores` this run's held-out scores
    (`SplitEvaluation.scores`); `champion` is the current champion of the same data source.

    The champion falls only to a model measured better beyond the noise on the same rows, or
    to its own recipe fitted on newer data; a model it cannot be compared with is challenger.
    `cfg.gate.take_champion` makes the new model champion whatever the outcome."""
    decision = _decide(new_auc, champion, rows, plan, cfg, baseline, scores, recipe or {})
    if cfg.gate.take_champion and decision.alias == CHALLENGER:
        return replace(decision, alias=CHAMPION, forced=True)
    return decision


def _decide(new_auc, champion, rows, plan, cfg, baseline, scores, recipe) -> GateDecision:
    test = tuple(plan.test)
    conf = cfg.gate.confidence

    def decision(alias: str, method: str, champion_auc=None, low=float("nan"), high=float("nan")) -> GateDecision:
        return GateDecision(alias, new_auc, champion_auc, None if champion is None else champion[0], method,
                            test, plan.kind, baseline, low, high, conf)

    if champion is None:
        return decision(CHAMPION, "first model")
    version, model = champion
    old = model.info.get("recipe", {})
    why_not = not_comparable(recipe, old)
    if why_not:
        return decision(CHALLENGER, why_not)
    if same_recipe(recipe, old):
        return decision(CHAMPION, f"the recipe of champion version {version} (features, parameters, "
                                  "label) fitted on this data")
    missing = [c for c in model.features if c not in rows.columns]
    if missing:
        # Another feature set (a table dropped, features=orders_only): not measurable on these rows.
        return decision(CHALLENGER, f"it needs features this run did not build: {', '.join(missing[:5])}"
                                    f"{' …' if len(missing) > 5 else ''}")
    if scores is None:
        raise ValueError("champion_gate needs this run's held-out scores to compare with a champion")
    method, champion_scores = _champion_scores(model, rows, plan, cfg, scores)
    ranked_by = baseline.ranked_by if baseline is not None else "model"
    both = scores.merge(champion_scores, on=["account_id", "snapshot"], how="inner")
    champion_auc = month_auc(both["churn"], both["champion"], both["snapshot"])
    low, high = paired_auc_difference(both["churn"], both[ranked_by], both["champion"], both["account_id"],
                                      cfg.gate.bootstrap_rounds, conf, cfg.seed, both["snapshot"])
    if np.isfinite(low):
        wins = low > 0
    else:  # no interval (0 rounds, or one class): only a strictly higher AUC wins
        wins = new_auc > champion_auc
    return decision(CHAMPION if wins else CHALLENGER, method, champion_auc, low, high)


def _champion_scores(model, rows, plan, cfg, scores) -> tuple[str, pd.DataFrame]:
    """How the champion was measured and its scores (account_id, snapshot, champion) on this
    run's held-out rows."""
    keys = scores[["account_id", "snapshot"]]
    ranked_by = getattr(model, "ranked_by", "model")
    if ranked_by != "model" and ranked_by in scores.columns:
        # A champion ranked by a baseline is that baseline, refitted on this plan's origins.
        return f"champion ranks by {ranked_by}", keys.assign(champion=scores[ranked_by].to_numpy())
    evaluation = model.evaluation
    seen_plan = getattr(evaluation, "plan", None)
    untouched = (
        plan.same_holdout(seen_plan)
        and evaluation.horizon == plan.horizon
        and (plan.kind != "oot" or evaluation.label_end <= min(plan.test))
    )
    if untouched:
        held_out = rows[plan.test_mask(rows)]
        return "champion's evaluated model", held_out[["account_id", "snapshot"]].assign(
            champion=evaluation.predict_proba(held_out))
    # The champion's procedure (features, parameters, calibration) judged at this plan's origins.
    recipe = model.info.get("recipe", {})
    lgbm = LgbmParams(**recipe.get("lgbm", {}))
    champion_cfg = replace(cfg, churn=lgbm, calibration=recipe.get("calibration", cfg.calibration))
    refit = evaluate_split(rows, list(model.fit.features), plan, champion_cfg).scores
    return "champion's recipe refitted on this plan", refit[["account_id", "snapshot"]].assign(
        champion=refit["model"].to_numpy())
