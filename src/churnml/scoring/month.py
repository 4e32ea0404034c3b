"""All of one month's frames at once: the ranked list, its changes, the win-back list, drift,
and the report data. `churnml score` and the scoring benchmark both call `score_frames`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from churnml.features.competitor import deepest_discount
from churnml.months import month_label
from churnml.report import ReportData
from churnml.report.build import build_report
from churnml.scoring.changes import Changes, apply_changes, compare_lists, left_status
from churnml.scoring.risk_list import score_accounts
from churnml.scoring.winback import win_back_list


@dataclass
class MonthScores:
    """A month's frames: the ranked list with its change columns, what changed, the win-back
    list, PSI per feature against training, and everything the workbook and page show."""

    risk_list: pd.DataFrame
    changes: Changes
    win_back: pd.DataFrame
    psi: dict[str, float]
    report: ReportData


def drift(churn_model: Any, scope: pd.DataFrame) -> dict[str, float]:
    """PSI of each model feature in scope against training (empty when the model has no reference)."""
    if not hasattr(churn_model, "population_stability") or scope.empty:
        return {}
    psi = churn_model.population_stability(scope)
    return {str(k): float(v) for k, v in psi.items() if np.isfinite(v)}


def score_frames(
    features: pd.DataFrame,
    tables: Mapping[str, pd.DataFrame],
    churn_model: Any,
    switching_model: Any | None,
    cfg: Any,
    as_of: pd.Timestamp,
    *,
    previous: pd.DataFrame | None = None,
    model_info: Mapping[str, Any] | None = None,
    notes: Sequence[str] = (),
    generated_at: str | None = None,
    retained_share: float = 0.2,
    history: pd.DataFrame | None = None,
    outputs: pd.DataFrame | None = None,
) -> MonthScores:
    """Score the accounts of `features` (the rows of snapshot `as_of`) with the models, compare
    with `previous` (the last month's list, if any) and assemble the report; `tables` needs
    `accounts` and `orders` (and uses `competitor_signals` and `outcomes`); `cfg` is a
    `ScoreConfig`; `retained_share` is the label's (`labels.retained_share`), which also says
    when a lost account's revenue fell away; `outputs`: the models' outputs by account when
    computed elsewhere (on Spark; `churnml.scoring.risk_list.model_outputs`)."""
    discount = deepest_discount(tables.get("competitor_signals"), as_of)
    risk_list = score_accounts(features, churn_model, switching_model, tables["accounts"], cfg,
                               deepest_discount=discount, outputs=outputs)
    changes = compare_lists(risk_list, previous)
    risk_list = apply_changes(risk_list, changes)
    changes.left["status"] = left_status(changes.left["account_id"], features)
    win_back = win_back_list(features, tables, as_of, retained_share)
    psi = drift(churn_model, features[features["in_scope"].astype(bool)])
    report = build_report(
        risk_list,
        changes,
        win_back,
        cfg,
        as_of=month_label(as_of),
        model=model_info,
        psi=psi,
        notes=notes,
        switching_available=switching_model is not None,
        generated_at=generated_at,
        html_rows=cfg.html_rows,
        history=history,
    )
    return MonthScores(risk_list, changes, win_back, psi, report)
