"""The champion gate: does a new churn model take the alias `champion`, or `challenger`?

Both models are measured in the same run on the same held-out rows of the same evaluation plan,
and neither may have been fitted on them. The new model's figure is its own evaluation. The
champion is measured with the model it carries when that model never saw those rows (the same
plan: for an out-of-time test, label windows that end before it; for a holdout, the same held-out
accounts); otherwise (the test moved back in time, another plan or horizon) its recipe —
features, parameters, calibration — is refitted on this run's plan. A new model takes
`champion` when its AUC is at least the champion's; the very first model always does.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import pandas as pd

from churnml.config import LgbmParams, ModelConfig
from churnml.evaluate import roc_auc
from churnml.models.churn import fit_churn
from churnml.models.split import Plan

log = logging.getLogger(__name__)


@dataclass
class GateDecision:
    """Which alias the new version takes and why."""

    alias: str  # "champion" | "challenger"
    new_auc: float
    champion_auc: float | None
    champion_version: str | None
    method: str  # how the champion was measured
    test_snapshots: tuple[pd.Timestamp, ...]
    plan: str = "oot"

    @property
    def compared(self) -> str:
        return ",".join(s.strftime("%Y-%m") for s in self.test_snapshots)

    def describe(self) -> str:
        if self.champion_version is None:
            return f"no champion yet: the new model takes @{self.alias} ({self.plan} auc {self.new_auc:.4f})"
        if self.champion_auc is None:
            return (
                f"champion version {self.champion_version} cannot be measured here ({self.method}): "
                f"the new model takes @{self.alias}"
            )
        return (
            f"new {self.plan} auc {self.new_auc:.4f} vs champion version {self.champion_version} "
            f"{self.champion_auc:.4f} on {self.compared} ({self.method}): the new model takes @{self.alias}"
        )

    def as_tags(self) -> dict[str, str]:
        return {
            "gate.alias": self.alias,
            "gate.champion_version": str(self.champion_version),
            "gate.method": self.method,
            "gate.test_snapshots": self.compared,
            "gate.plan": self.plan,
        }

    def as_metrics(self) -> dict[str, float]:
        out = {"gate/new_auc": self.new_auc}
        if self.champion_auc is not None:
            out["gate/champion_auc"] = self.champion_auc
        return out


def champion_gate(
    new_auc: float,
    champion,  # (version, ChurnModel) or None
    rows: pd.DataFrame,
    plan: Plan,
    cfg: ModelConfig,
) -> GateDecision:
    """Decide the alias of a new churn model whose AUC on the held-out rows of `plan` is
    `new_auc`. `rows` are this run's training rows (`churnml.models.churn.training_rows`)."""
    test = tuple(plan.test)
    if champion is None:
        return GateDecision("champion", new_auc, None, None, "first model", test, plan.kind)
    version, model = champion
    held_out = rows[plan.test_mask(rows)]
    missing = [c for c in model.features if c not in rows.columns]
    if missing:
        method = f"champion needs features this data does not have: {missing[:5]}"
        return GateDecision("challenger", new_auc, None, version, method, test, plan.kind)
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
    alias = "champion" if new_auc >= champion_auc else "challenger"
    decision = GateDecision(alias, new_auc, champion_auc, version, method, test, plan.kind)
    log.info("champion gate: %s", decision.describe())
    return decision
