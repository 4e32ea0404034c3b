"""Competitor family: competitor intelligence by kind, the latest and deepest price gap, and how
long ago the last signal came in."""

from __future__ import annotations

import numpy as np
import pandas as pd

from churnml.data.contract import TABLES as CONTRACT
from churnml.features.panel import (
    DAYS_PER_MONTH,
    Panel,
    window_fmin,
    window_sum,
)

NAME = "competitor"
TABLES = ("competitor_signals",)
KINDS = list(CONTRACT["competitor_signals"].column("kind").values)
PRICE_GAP_MONTHS = 12


def build(panel: Panel, signals: pd.DataFrame) -> dict[str, np.ndarray]:
    """Competitor features at the snapshot columns, each of shape `(A, J)`."""
    c = panel.cols
    A, M = panel.n_accounts, panel.n_months
    ev = panel.events(signals, "observed_at")
    every = panel.monthly(ev.acc, ev.month)
    out: dict[str, np.ndarray] = {}
    for w in (3, 12):
        out[f"competitor_signals_{w}m"] = window_sum(every, c - w, w).astype(np.float64)

    out.update(panel.counts_by_level(ev, ev.column(signals, "kind"), KINDS, "signals", 12))

    last = panel.last_before(ev.acc, ev.month, ev.day)[:, c]
    out["months_since_competitor_signal"] = (panel.snapshot_days[None, :] - last) / DAYS_PER_MONTH

    gap = ev.column(signals, "price_gap").to_numpy(dtype=np.float64, na_value=np.nan)
    has_gap = ~np.isnan(gap)
    if has_gap.any():
        cell = ev.acc[has_gap] * M + ev.month[has_gap]
        rows = pd.DataFrame({"cell": cell, "day": ev.day[has_gap], "gap": gap[has_gap]})
        # Per month the latest observation; on the same day the deepest gap.
        rows = rows.sort_values(["cell", "day", "gap"], ascending=[True, True, False])
        latest = rows.drop_duplicates("cell", keep="last")
        monthly_latest = np.full(A * M, np.nan)
        monthly_latest[latest["cell"].to_numpy()] = latest["gap"].to_numpy()
        monthly_latest = monthly_latest.reshape(A, M)
        monthly_min = np.full(A * M, np.inf)
        np.minimum.at(monthly_min, cell, gap[has_gap])
        monthly_min[np.isinf(monthly_min)] = np.nan
        monthly_min = monthly_min.reshape(A, M)

        w = PRICE_GAP_MONTHS
        out[f"price_gap_deepest_{w}m"] = window_fmin(monthly_min, c - w, w)
        # latest: the most recent month with a gap among the last w months
        month_idx = np.where(np.isnan(monthly_latest), -1, np.arange(M)[None, :])
        last_month = np.full((A, M + 1), -1, dtype=np.int64)
        np.maximum.accumulate(month_idx, axis=1, out=last_month[:, 1:])
        pick = last_month[:, c]
        recent = (pick >= 0) & (pick >= c[None, :] - w)
        rows_idx = np.broadcast_to(np.arange(A)[:, None], pick.shape)
        out[f"price_gap_latest_{w}m"] = np.where(
            recent, monthly_latest[rows_idx, np.maximum(pick, 0)], np.nan
        )
    return out
