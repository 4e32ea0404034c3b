"""The champion gate: does a new churn model take its data source's alias `champion`, or `challenger`?

A model earns its place twice over, both measured in the same run on the same held-out rows of
the same evaluation plan, rows neither was fitted on:
1. against the baselines: its AUC must beat the best of them (rule, RFM, recency, BG/NBD) by at
   least `model.gate.min_gain_over_baseline`; a model that only ties a logistic regression on
   three columns is no model to send a list out with;
2. against the current champion of the same data source: its AUC must be at least the
   champion's. The champion is measured with the model it carries when that model never saw
   those rows (the same plan: for an out-of-time test, label windows that end before it; for a
   holdout, the same held-out accounts); otherwise (the test moved back in time, another plan or
   horizon) its recipe — features, parameters, calibration — is refitted on this run's plan.
The first model of a data source that beats the baselines becomes its champion.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from churnml.config import LgbmParams, ModelConfig
from churnml.data.source import CHALLENGER, CHAMPION
from churnml.evaluate import roc_auc
from churnml.models.baselines import NAMES as BASELINES
from churnml.models.churn import fit_churn
from churnml.models.split import Plan

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class BaselineCheck:
    """The model's AUC against the best baseline's on the same held-out rows."""

    auc: float
    baseline: str  # name of the best baseline
    baseline_auc: float
    min_gain: float

    @property
    def gain(self) -> float:
        return self.auc - self.baseline_auc

    @property
    def passed(self) -> bool:
        return bool(np.isfinite(self.auc)) and (not np.isfinite(self.baseline_auc) or self.gain >= self.min_gain)

    def describe(self) -> str:
        verdict = "beats" if self.passed else "does not beat"
        return (
            f"AUC {self.auc:.4f} {verdict} the best baseline, {self.baseline} ({self.baseline_auc:.4f}), "
            f"by at least {self.min_gain:g} (gain {self.gain:+.4f})"
        )

    def as_dict(self) -> dict:
        return {"auc": self.auc, "baseline": self.baseline, "baseline_auc": self.baseline_auc,
                "min_gain": self.min_gain, "passed": self.passed, "text": self.describe()}


def baseline_check(metrics: dict[str, dict[str, float]], min_gain: float) -> BaselineCheck:
    """The check of the model (`metrics["model"]`) against the best baseline in `metrics`."""
    found = [(b, metrics[b]["auc"]) for b in BASELINES if b in metrics and np.isfinite(metrics[b]["auc"])]
    name, auc = max(found, key=lambda item: item[1]) if found else ("none", float("nan"))
    return BaselineCheck(metrics["model"]["auc"], name, auc, min_gain)


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
        if self.baseline is not None and not self.baseline.passed:
            return (f"the new model's {self.plan} {self.baseline.describe()}: it takes @{self.alias}, "
                    "not champion")
        beats = (f"; it beats the best baseline, {self.baseline.baseline}, by {self.baseline.gain:+.4f}"
                 if self.baseline is not None and np.isfinite(self.baseline.baseline_auc) else "")
        if self.champion_version is None:
            return f"no champion yet: the new model takes @{self.alias} ({self.plan} auc {self.new_auc:.4f}{beats})"
        if self.champion_auc is None:
            return (
                f"champion version {self.champion_version} cannot be measured here ({self.method}): "
                f"the new model takes @{self.alias}"
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
) -> GateDecision:
    """Decide the alias of a new churn model whose AUC on the held-out rows of `plan` is
    `new_auc`, given its `baseline` check. `rows` are this run's training rows
    (`churnml.models.churn.training_rows`); `champion` is the current champion of the same data
    source."""
    test = tuple(plan.test)
    if baseline is not None and not baseline.passed:
        version = champion[0] if champion else None
        return GateDecision(CHALLENGER, new_auc, None, version, "lost to a baseline", test, plan.kind, baseline)
    if champion is None:
        return GateDecision(CHAMPION, new_auc, None, None, "first model", test, plan.kind, baseline)
    version, model = champion
    held_out = rows[plan.test_mask(rows)]
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
        scores = evaluation.predict_proba(held_out)
    else:
        method = "champion's recipe refitted on this plan"
        recipe = model.info.get("recipe", {})
        lgbm = LgbmParams(**recipe.get("lgbm", {}))
        champion_cfg = replace(cfg, churn=lgbm, calibration=recipe.get("calibration", cfg.calibration))
        scores = fit_churn(rows, model.features, plan, champion_cfg).predict_proba(held_out)
    champion_auc = roc_auc(held_out["churn"], scores)
    alias = CHAMPION if new_auc >= champion_auc else CHALLENGER
    return GateDecision(alias, new_auc, champion_auc, version, method, test, plan.kind, baseline)
