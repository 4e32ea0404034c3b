"""Relationship family: executive and sales contact, business reviews, and the key people at the
account — who is there at t, who left, how often the decision makers changed.

A contact is at the account at t when they started before t (or the start is unknown) and did
not leave before t: an `end_date` on or after t is not known at t.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from churnml.data.contract import TABLES as CONTRACT
from churnml.features.panel import (
    DAYS_PER_MONTH,
    NAT_INT,
    Panel,
    category_codes,
    day_numbers,
    month_numbers,
    window_sum,
)

NAME = "relationship"
TABLES = ("interactions", "contacts")  # either one is enough
INTERACTION_KINDS = list(CONTRACT["interactions"].column("kind").values)
ROLES = list(CONTRACT["contacts"].column("role").values)
# Counted per year; joint development is in the switching-cost family.
_PER_YEAR = {
    "exec_visit": "exec_visits_12m",
    "sales_visit": "sales_visits_12m",
    "business_review": "business_reviews_12m",
    "training": "trainings_12m",
}


def interaction_codes(interactions: pd.DataFrame, ev) -> np.ndarray:
    """Code of each kept interaction's kind in `INTERACTION_KINDS` (-1 when missing)."""
    kind = ev.column(interactions, "kind").str.strip().str.lower()
    return category_codes(kind, INTERACTION_KINDS)


def build(
    panel: Panel, interactions: pd.DataFrame | None, contacts: pd.DataFrame | None
) -> dict[str, np.ndarray]:
    """Relationship features at the snapshot columns, each of shape `(A, J)`."""
    out: dict[str, np.ndarray] = {}
    if interactions is not None:
        out.update(_interactions(panel, interactions))
    if contacts is not None:
        out.update(_contacts(panel, contacts))
    return out


def _interactions(panel: Panel, interactions: pd.DataFrame) -> dict[str, np.ndarray]:
    c = panel.cols
    ev = panel.events(interactions, "occurred_at")
    codes = interaction_codes(interactions, ev)
    every = panel.monthly(ev.acc, ev.month)
    out = {
        "interactions_3m": window_sum(every, c - 3, 3).astype(np.float64),
        "interactions_12m": window_sum(every, c - 12, 12).astype(np.float64),
    }
    for kind, name in _PER_YEAR.items():
        hit = codes == INTERACTION_KINDS.index(kind)
        out[name] = window_sum(panel.monthly(ev.acc[hit], ev.month[hit]), c - 12, 12).astype(float)
    hit = codes == INTERACTION_KINDS.index("exec_visit")
    last = panel.last_before(ev.acc[hit], ev.month[hit], ev.day[hit])[:, c]
    out["months_since_exec_visit"] = (panel.snapshot_days[None, :] - last) / DAYS_PER_MONTH
    return out


def _contacts(panel: Panel, contacts: pd.DataFrame) -> dict[str, np.ndarray]:
    c = panel.cols
    M = panel.n_months
    acc = panel.rows(contacts["account_id"])
    start = month_numbers(contacts["start_date"])
    end = month_numbers(contacts["end_date"])
    keep = acc >= 0
    acc, start, end = acc[keep], start[keep], end[keep]
    no_start, no_end = start == NAT_INT, end == NAT_INT
    start_col = np.where(no_start, -1, start - panel.start)
    end_col = np.where(no_end, M + 1, end - panel.start)
    end_col = np.where(no_start | no_end, end_col, np.maximum(end_col, start_col))
    # at column j: started in a month before j (or unknown) and left in month j or later
    first, last = start_col + 1, np.minimum(end_col, M)
    role = contacts["role"][keep]
    is_dm = category_codes(role.str.strip().str.lower(), ROLES) == 0

    out = {"contacts_current": panel.intervals(acc, first, last)[:, c].astype(np.float64)}
    left = ~no_end & (end_col < M)
    left_monthly = panel.monthly(acc[left], np.maximum(end_col[left], 0))
    for w in (6, 12):
        out[f"contacts_left_{w}m"] = window_sum(left_monthly, c - w, w).astype(np.float64)

    if panel.has_values("contacts", "role", role):
        out["decision_makers_current"] = panel.intervals(acc[is_dm], first[is_dm], last[is_dm])[
            :, c
        ].astype(np.float64)
        dm_left = left & is_dm
        dm_left_monthly = panel.monthly(acc[dm_left], np.maximum(end_col[dm_left], 0))
        out["decision_makers_left_12m"] = window_sum(dm_left_monthly, c - 12, 12).astype(float)
        dm_joined = is_dm & ~no_start & (start_col < M)
        joined_monthly = panel.monthly(acc[dm_joined], np.maximum(start_col[dm_joined], 0))
        out["decision_maker_changes_24m"] = (
            window_sum(dm_left_monthly + joined_monthly, c - 24, 24).astype(np.float64)
        )
        end_days = day_numbers(contacts["end_date"][keep])
        last_left = panel.last_before(
            acc[dm_left], np.maximum(end_col[dm_left], 0), end_days[dm_left]
        )[:, c]
        out["months_since_decision_maker_left"] = (
            panel.snapshot_days[None, :] - last_left
        ) / DAYS_PER_MONTH
    return out
