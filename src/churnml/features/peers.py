"""Peers family: losses and switches among the other accounts of the same industry, and whether an
influential account of the industry left recently ("followers leave with the leader").

Without leakage: an account counts as lost at the first snapshot at which its loss is
observable — a loss recorded in `outcomes` before t, or the account dropping out of scope (gone
quiet by the lost-window test, or nothing bought in the scope window) — never at the time its
later label window says it churned. Each account's own loss is left out of its peer rates.
Losses show in the orders alone, so the family needs only orders and an industry; switches
need `outcomes`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from churnml.features.across import LEADER
from churnml.features.labels import AccountStatus, lost_to_competitor
from churnml.features.panel import Panel, window_sum

NAME = "peers"
TABLES = ("orders",)
WINDOW = 12
LEADER_MONTHS = 6
ESTABLISHED_MONTHS = 6


def build(
    panel: Panel,
    status: AccountStatus,
    accounts: pd.DataFrame,
    outcomes: pd.DataFrame | None,
    leader_influence: float,
) -> dict[str, np.ndarray]:
    """Peer features at the snapshot columns, each of shape `(A, J)`; empty without industries."""
    if not panel.has_values("accounts", "industry", accounts["industry"]):
        return {}
    c = panel.cols
    events = status.became_gone.astype(np.int64)
    # losses that became observable at columns j - WINDOW + 1 .. j (i.e. before each t)
    lost = window_sum(events, c - WINDOW + 1, WINDOW) > 0

    switched = np.zeros_like(lost)
    if outcomes is not None:
        ev = panel.events(outcomes, "lost_at")
        to_competitor = lost_to_competitor(outcomes, ev)
        switched_monthly = np.zeros((panel.n_accounts, panel.n_months + 1), dtype=np.int64)
        # a loss dated in month m is known from column m + 1
        np.add.at(switched_monthly, (ev.acc[to_competitor], ev.month[to_competitor] + 1), 1)
        switched = window_sum(switched_monthly, c - WINDOW + 1, WINDOW) > 0

    # The totals over the industry's other accounts are taken across the accounts
    # (`churnml.features.across`); here each account's own part, the features as placeholders.
    out: dict[str, np.ndarray | None] = {
        "peer_churn_rate_12m": None,
        "_peer_lost": lost.astype(np.float64),
        "_peer_base": (status.in_scope[:, c] | lost | switched).astype(np.float64),
    }
    if outcomes is not None:
        out["peer_switch_rate_12m"] = None
        out["_peer_switched"] = switched.astype(np.float64)
    influence = accounts["influence"].to_numpy(dtype=np.float64, na_value=np.nan)
    if panel.has_values("accounts", "influence", influence):
        leader = (influence >= leader_influence)[:, None]
        leader_left = (
            window_sum(events, c - LEADER_MONTHS + 1, LEADER_MONTHS) > 0
        ) & leader
        out["peer_leader_lost_6m"] = None
        out["_peer_leader_left"] = leader_left.astype(np.float64)
        # Only the loss of an established account counts: one in scope at each of the
        # ESTABLISHED_MONTHS snapshots before, not the flicker of a long-lost account whose last
        # residual orders bring it briefly back into scope.
        all_cols = np.arange(panel.n_months + 1)
        steady = window_sum(status.in_scope.astype(np.int64), all_cols - ESTABLISHED_MONTHS,
                            ESTABLISHED_MONTHS) == ESTABLISHED_MONTHS
        out["months_since_peer_leader_lost"] = None
        out[LEADER] = _leader_last_loss(panel, status.became_gone & steady, np.flatnonzero(leader[:, 0]))
    return out


def _leader_last_loss(panel: Panel, became_gone: np.ndarray, leaders: np.ndarray) -> np.ndarray:
    """Month number of each leader's latest observable loss up to each snapshot column (-inf:
    none yet); NaN for the accounts that are not leaders. Shape `(A, len(c))`."""
    cols = np.arange(became_gone.shape[1], dtype=np.float64)
    out = np.full((panel.n_accounts, len(panel.cols)), np.nan)
    if len(leaders):
        last = np.maximum.accumulate(np.where(became_gone[leaders], cols, -np.inf), axis=1)[:, panel.cols]
        out[leaders] = last + panel.start
    return out
