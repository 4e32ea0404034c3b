"""Switching-cost family: joint development, the structural bond that makes changing supplier
expensive.

The other structural bonds — share of custom products, breadth of product lines, tenure — come
from the order lines and live in the orders family, so that they exist whenever orders do.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from churnml.features.panel import DAYS_PER_MONTH, Panel, window_sum
from churnml.features.relationship import INTERACTION_KINDS, interaction_codes

NAME = "switching"
TABLES = ("interactions",)


def build(panel: Panel, interactions: pd.DataFrame) -> dict[str, np.ndarray]:
    """Joint-development features at the snapshot columns, each of shape `(A, J)`."""
    c = panel.cols
    ev = panel.events(interactions, "occurred_at")
    hit = interaction_codes(interactions, ev) == INTERACTION_KINDS.index("joint_development")
    monthly = panel.monthly(ev.acc[hit], ev.month[hit])
    total = np.zeros((panel.n_accounts, panel.n_months + 1), dtype=np.int64)
    np.cumsum(monthly, axis=1, out=total[:, 1:])
    last = panel.last_before(ev.acc[hit], ev.month[hit], ev.day[hit])[:, c]
    return {
        "joint_development_total": total[:, c].astype(np.float64),
        "joint_development_24m": window_sum(monthly, c - 24, 24).astype(np.float64),
        "months_since_joint_development": (panel.snapshot_days[None, :] - last) / DAYS_PER_MONTH,
    }
