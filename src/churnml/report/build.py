"""Report assembly: everything the workbook and the page of a month show, as one `ReportData`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Sequence

import numpy as np
import pandas as pd

from churnml.report import ReportData, group_key, in_words
from churnml.scoring.changes import Changes
from churnml.scoring.priority import PRIORITY_FORMULA, band_order, check_weights


def summarise(risk_list: pd.DataFrame, by: str, bands: Sequence[str]) -> pd.DataFrame:
    """Accounts, revenue, revenue at risk and priority per value of `by` (tier, industry, manager),
    with the number of accounts in each band; largest revenue at risk first."""
    key = group_key(risk_list, by)
    grouped = risk_list.groupby(key, sort=True)
    out = pd.DataFrame(
        {
            "accounts": grouped.size(),
            "revenue_12m": grouped["revenue_12m"].sum(),
            "revenue_at_risk": grouped["revenue_at_risk"].sum(),
            "priority": grouped["priority"].sum(),
        }
    )
    counts = pd.crosstab(key, risk_list["risk_band"]).reindex(columns=list(bands), fill_value=0)
    for band in bands:
        out[f"{band}_band"] = counts[band].reindex(out.index, fill_value=0).astype("int64")
    out["share_of_revenue_at_risk"] = out["revenue_at_risk"] / max(out["revenue_at_risk"].sum(), 1e-12)
    out = out.reset_index().sort_values(["revenue_at_risk", by], ascending=[False, True], kind="mergesort")
    return out.reset_index(drop=True)


def score_distribution(risk_list: pd.DataFrame, bands: Sequence[str]) -> dict[str, float]:
    """Summary numbers of the churn-probability distribution, for tracking and the report."""
    p = risk_list["churn_probability"].astype("float64")
    out: dict[str, float] = {"accounts": float(len(p))}
    if len(p):
        out["mean"] = float(p.mean())
        for q in (0.1, 0.25, 0.5, 0.75, 0.9, 0.99):
            out[f"p{int(q * 100):02d}"] = float(p.quantile(q))
        out["revenue_at_risk"] = float(risk_list["revenue_at_risk"].sum())
        for band in bands:
            out[f"share_{band}"] = float((risk_list["risk_band"] == band).mean())
    return out


def build_report(
    risk_list: pd.DataFrame,
    changes: Changes,
    win_back: pd.DataFrame,
    cfg: Any,
    *,
    as_of: str,
    model: Mapping[str, Any] | None = None,
    psi: Mapping[str, float] | None = None,
    notes: Sequence[str] = (),
    switching_available: bool = True,
    generated_at: str | None = None,
    html_rows: int = 1000,
    history: pd.DataFrame | None = None,
):
    """Everything the workbook and the page show, as a `churnml.report.ReportData`: codes in
    words (`score.labels`), amounts in `score.currency`."""
    bands = band_order(cfg.risk_bands)
    labels = dict(getattr(cfg, "labels", {}) or {})
    risk_list = in_words(risk_list, labels)
    summaries = {by: summarise(risk_list, by, bands) for by in ("tier", "industry", "account_manager")}
    return ReportData(
        as_of=as_of,
        risk_list=risk_list,
        left=changes.left,
        win_back=in_words(win_back, labels),
        summaries=summaries,
        bands=bands,
        thresholds={k: float(v) for k, v in cfg.risk_bands.items()},
        weights=check_weights(cfg.weights),
        formula=PRIORITY_FORMULA,
        distribution=score_distribution(risk_list, bands),
        previous_as_of=changes.previous_as_of,
        model=dict(model or {}),
        psi={k: float(v) for k, v in (psi or {}).items() if np.isfinite(v)},
        drift_threshold=float(cfg.psi_threshold),
        notes=list(notes),
        generated_at=generated_at,
        switching_available=switching_available,
        html_rows=html_rows,
        currency=getattr(cfg, "currency", "EUR"),
        history=history if history is not None else pd.DataFrame(),
    )
