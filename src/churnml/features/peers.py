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

from churnml.features.labels import AccountStatus, lost_to_competitor
from churnml.features.panel import Panel, ratio, window_sum

NAME = "peers"
TABLES = ("orders",)
WINDOW = 12
LEADER_MONTHS = 6
ESTABLISHED_MONTHS = 6


def _others(values: np.ndarray, industry: np.ndarray, n_industries: int) -> np.ndarray:
    """Per account, the sum of `values` over the other accounts of its industry (`(A, J)`)."""
    ok = industry >= 0
    totals = np.zeros((n_industries, values.shape[1]))
    np.add.at(totals, industry[ok], values[ok])
    out = np.full(values.shape, np.nan)
    out[ok] = totals[industry[ok]] - values[ok]
    return out


def build(
    panel: Panel,
    status: AccountStatus,
    accounts: pd.DataFrame,
    outcomes: pd.DataFrame | None,
    leader_influence: float,
) -> dict[str, np.ndarray]:
    """Peer features at the snapshot columns, each of shape `(A, J)`; empty without industries."""
    industry_col = accounts["industry"]
    if industry_col.isna().all():
        return {}
    industry, levels = pd.factorize(industry_col)
    industry = np.asarray(industry, dtype=np.int64)
    K = len(levels)
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

    base = (status.in_scope[:, c] | lost | switched).astype(np.float64)
    others_base = _others(base, industry, K)
    out = {"peer_churn_rate_12m": ratio(_others(lost.astype(np.float64), industry, K), others_base)}
    if outcomes is not None:
        out["peer_switch_rate_12m"] = ratio(_others(switched.astype(np.float64), industry, K), others_base)
    influence = accounts["influence"].to_numpy(dtype=np.float64, na_value=np.nan)
    if not np.isnan(influence).all():
        leader = (influence >= leader_influence)[:, None]
        leader_left = (
            window_sum(events, c - LEADER_MONTHS + 1, LEADER_MONTHS) > 0
        ) & leader
        others = _others(leader_left.astype(np.float64), industry, K)
        out["peer_leader_lost_6m"] = np.where(np.isnan(others), np.nan, (others > 0).astype(float))
        # Only the loss of an established account counts: one in scope at each of the
        # ESTABLISHED_MONTHS snapshots before, not the flicker of a long-lost account whose last
        # residual orders bring it briefly back into scope.
        all_cols = np.arange(panel.n_months + 1)
        steady = window_sum(status.in_scope.astype(np.int64), all_cols - ESTABLISHED_MONTHS,
                            ESTABLISHED_MONTHS) == ESTABLISHED_MONTHS
        out["months_since_peer_leader_lost"] = _since_other_leader_lost(
            status.became_gone & steady, np.flatnonzero(leader[:, 0]), industry, c
        )
    return out


def _since_other_leader_lost(
    became_gone: np.ndarray, leaders: np.ndarray, industry: np.ndarray, c: np.ndarray
) -> np.ndarray:
    """Months from the latest observable loss of another leader of the same industry to each
    snapshot column (0: it became observable at this snapshot); NaN when there is none.
    Shape `(A, len(c))`. Loops over the leaders only (a few per industry)."""
    n_cols = became_gone.shape[1]
    cols = np.arange(n_cols, dtype=np.float64)
    out = np.full((len(industry), len(c)), np.nan)
    for k in np.unique(industry[leaders][industry[leaders] >= 0]):
        mine = leaders[industry[leaders] == k]
        # latest column <= j at which each leader became gone (-inf: never)
        last = np.maximum.accumulate(np.where(became_gone[mine], cols, -np.inf), axis=1)[:, c]
        order = np.argsort(-last, axis=0, kind="stable")
        best = np.take_along_axis(last, order[:1], axis=0)[0]
        second = np.take_along_axis(last, order[1:2], axis=0)[0] if len(mine) > 1 else np.full(len(c), -np.inf)
        members = np.flatnonzero(industry == k)
        latest = np.broadcast_to(best, (len(members), len(c))).copy()
        # a leader's own loss does not count for itself: it sees the other leaders' latest
        for i, j in enumerate(mine):
            row = np.searchsorted(members, j)
            latest[row] = np.where(order[0] == i, second, best)
        since = c[None, :] - latest
        out[members] = np.where(np.isinf(latest), np.nan, since)
    return out
