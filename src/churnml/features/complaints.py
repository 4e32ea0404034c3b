"""Complaints family: how many, how many still open and for how long, how fast they are resolved.

A complaint is open at t when it was opened before t and not resolved before t: one opened
before t and resolved on or after t is open at t (its resolution is not known yet).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from churnml.data.contract import TABLES as CONTRACT
from churnml.features.panel import Panel, days_or_nan, months_of_days, window_sum

NAME = "complaints"
TABLES = ("complaints",)
CATEGORIES = list(CONTRACT["complaints"].column("category").values)


def _expand_to_snapshots(
    cols: np.ndarray, first: np.ndarray, last: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """For items active on columns `first .. last` (inclusive): the item and the snapshot index
    of every (item, snapshot) pair where the snapshot column is in that range."""
    lo = np.searchsorted(cols, first, side="left")
    hi = np.searchsorted(cols, last, side="right")
    counts = np.maximum(hi - lo, 0)
    item = np.repeat(np.arange(len(first)), counts)
    offset = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    return item, lo[item] + offset


def build(panel: Panel, complaints: pd.DataFrame) -> dict[str, np.ndarray]:
    """Complaint features at the snapshot columns, each of shape `(A, J)`."""
    c = panel.cols
    A, J, M = panel.n_accounts, len(c), panel.n_months
    ev = panel.events(complaints, "opened_at")
    opened = panel.monthly(ev.acc, ev.month)
    out: dict[str, np.ndarray] = {}
    for w in (3, 12):
        out[f"complaints_opened_{w}m"] = window_sum(opened, c - w, w).astype(np.float64)

    out.update(panel.counts_by_level(ev, ev.column(complaints, "category"), CATEGORIES, "complaints", 12, "complaints"))

    # Open at column j: opened in a month before j, resolved in month j or later (or never).
    resolved_day = days_or_nan(ev.column(complaints, "resolved_at"))
    resolved_day = np.maximum(resolved_day, ev.day)  # never before it was opened; NaN stays
    unresolved = np.isnan(resolved_day)
    resolved_month = months_of_days(np.where(unresolved, 0, resolved_day)) - panel.start
    last_open = np.where(unresolved, M, resolved_month)
    first_open = ev.month + 1
    out["complaints_open"] = panel.intervals(ev.acc, first_open, last_open)[:, c].astype(np.float64)

    severity = ev.column(complaints, "severity").to_numpy(dtype=np.float64, na_value=np.nan)
    if panel.has_values("complaints", "severity", severity):
        worst = np.zeros((A, J))
        for level in (1, 2, 3):
            hit = severity == level
            n_open = panel.intervals(ev.acc[hit], first_open[hit], last_open[hit])[:, c]
            worst[n_open > 0] = level
        out["complaint_max_open_severity"] = worst
        severe = panel.monthly(ev.acc[severity == 3], ev.month[severity == 3])
        out["complaints_severe_12m"] = window_sum(severe, c - 12, 12).astype(np.float64)

    # Age of the oldest open complaint: spread each complaint over the snapshots it is open at.
    item, snap = _expand_to_snapshots(c, first_open, last_open)
    oldest = np.full(A * J, np.inf)
    np.minimum.at(oldest, ev.acc[item] * J + snap, ev.day[item].astype(np.float64))
    oldest = oldest.reshape(A, J)
    oldest[np.isinf(oldest)] = np.nan
    out["complaint_oldest_open_days"] = panel.snapshot_days[None, :] - oldest

    # Median days to resolve, over complaints whose resolution is known at t and fell in the
    # 12 months before t (resolution month m is known from column m + 1).
    done = ~unresolved
    known_from = resolved_month[done] + 1
    item, snap = _expand_to_snapshots(c, known_from, known_from + 11)
    duration = (resolved_day[done] - ev.day[done])[item]
    key = ev.acc[done][item] * J + snap
    median = pd.Series(duration).groupby(key).median()
    flat = np.full(A * J, np.nan)
    flat[median.index.to_numpy()] = median.to_numpy()
    out["complaint_median_resolution_days_12m"] = flat.reshape(A, J)
    return out
