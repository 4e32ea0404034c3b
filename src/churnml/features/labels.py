"""Scope and labels: who is at risk at a snapshot, and who churned or switched after it.

Definitions (DESIGN.md, "Time and labels"), for a snapshot t (first day of a month):
- **in scope**: bought anything in the `scope_months` before t, no loss recorded in `outcomes`
  before t, and not already gone by its own rhythm: when `lost_window_months` L > 0, the
  account's window W is `rhythm_gaps` × its usual gap between order days before t (in months,
  rounded up), at least L and at most `scope_months` (L while it has ordered on one day only: no
  rhythm is known yet); an account with history before the last W months must have ordered in
  them, and a regular buyer (`regular_buyer`: a rhythm, and W = L) have revenue in them above
  `retained_share` × its average monthly revenue over the 12 months before them (or since its
  first order) × L. An account that orders every four months is not gone after three. One
  definition for training, scoring and win-back (`gone_by_rhythm`).
- **recently lost**: exists, not in scope, but bought something in the 2 × `scope_months` before t.
- **churn** (in-scope rows whose `[t, t + H)` is inside the data): for a regular buyer
  (`regular_buyer`: its lost window is L) revenue in `[t, t + H)` at most `retained_share` × usual
  monthly revenue × H — partial defection; for an account that orders a few times a year (or has
  ordered on one day only) no order in `[t, t + H)`, as the size of its next order or two says
  nothing of defection; or, for either, a loss recorded in `outcomes` in the window.
- **switch**: churn, and the business went to a competitor: an outcome with reason `competitor`
  in the window, or a competitor signal of a kind in `switch_signal_kinds` in
  `[t - switch_evidence_months_before, t + H)`.

Scope is computed at every month of the panel (peers need it); labels at the snapshot columns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from churnml.config import LabelsConfig
from churnml.features.orders import OrdersPanel, before, usual_monthly_revenue
from churnml.features.panel import DAYS_PER_MONTH, NAT_INT, Events, Panel, month_numbers, ratio, window_sum


@dataclass
class AccountStatus:
    """Status of every account at every column of the panel, arrays of shape `(A, M + 1)`."""

    exists: np.ndarray  # first order or `since` before the column
    in_scope: np.ndarray
    recently_lost: np.ndarray
    gone: np.ndarray  # has bought before, but is not in scope: lost, as far as one can see
    became_gone: np.ndarray  # gone now and not at the previous column: the loss became observable
    loss_known_col: np.ndarray  # (A,) first column at which a recorded loss is known (M + 1: none)


def account_status(
    panel: Panel,
    op: OrdersPanel,
    accounts: pd.DataFrame,
    outcomes: pd.DataFrame | None,
    cfg: LabelsConfig,
) -> AccountStatus:
    """Exists / in scope / recently lost / gone at every column, from rows before each column."""
    A, M = panel.n_accounts, panel.n_months
    cols = np.arange(M + 1)
    since = month_numbers(accounts["since"])
    since_col = np.where(since == NAT_INT, M + 1, since - panel.start)
    exists = (op.first_col[:, None] < cols) | (since_col[:, None] < cols)

    loss_known = np.full(A, M + 1, dtype=np.int64)
    if outcomes is not None and len(outcomes):
        ev = panel.events(outcomes, "lost_at")
        # lost_at < t exactly when its month is before t's month
        np.minimum.at(loss_known, ev.acc, ev.month + 1)

    bought = window_sum(op.lines, cols - cfg.scope_months, cfg.scope_months) > 0
    in_scope = exists & bought & (cols[None, :] < loss_known[:, None])
    if cfg.lost_window_months > 0:
        in_scope &= ~gone_by_rhythm(panel, op, cfg)
    window = 2 * cfg.scope_months
    bought_lately = window_sum(op.lines, cols - window, window) > 0
    recently_lost = exists & ~in_scope & bought_lately
    gone = exists & (op.first_col[:, None] < cols) & ~in_scope
    became_gone = gone.copy()
    became_gone[:, 1:] &= ~gone[:, :-1]
    return AccountStatus(exists, in_scope, recently_lost, gone, became_gone, loss_known)


def lost_window(op: OrdersPanel, cols: np.ndarray, cfg: LabelsConfig) -> np.ndarray:
    """Months of silence, or of business below `retained_share`, after which an account counts as
    gone at each column, shape `(A, len(cols))`: `rhythm_gaps` × its mean gap between order days
    before the column, in months rounded up, clipped to [`lost_window_months`, `scope_months`];
    `lost_window_months` while it has no gap yet (one order day: no rhythm of its own to wait for,
    and an account whose single order in the extract was its last would otherwise sit on the list
    for a year)."""
    return window_for_gap(ratio(before(op.gap_sum, cols), before(op.gap_n, cols)), cfg)


def window_for_gap(mean_gap_days: np.ndarray, cfg: LabelsConfig) -> np.ndarray:
    """The lost window (`lost_window`) of accounts whose mean gap between order days is
    `mean_gap_days` (NaN: one order day so far)."""
    low = min(cfg.lost_window_months, cfg.scope_months)
    gap = np.asarray(mean_gap_days, dtype=np.float64) / DAYS_PER_MONTH
    window = np.ceil(np.nan_to_num(cfg.rhythm_gaps * gap, nan=low) - 1e-9)
    return np.clip(window, low, cfg.scope_months).astype(np.int64)


def regular_buyer(op: OrdersPanel, cols: np.ndarray, cfg: LabelsConfig) -> np.ndarray:
    """True where an account buys often enough that its revenue over a few months shows
    business falling away, shape `(A, len(cols))`: it has a rhythm (two order days or more) and
    its lost window (`lost_window`) is `lost_window_months` itself. Everywhere when that test is
    off (`lost_window_months` 0)."""
    return regular_for_gap(ratio(before(op.gap_sum, cols), before(op.gap_n, cols)), cfg)


def regular_for_gap(mean_gap_days: np.ndarray, cfg: LabelsConfig) -> np.ndarray:
    """`regular_buyer` of accounts whose mean gap between order days is `mean_gap_days` (NaN:
    one order day so far)."""
    gap = np.asarray(mean_gap_days, dtype=np.float64)
    if cfg.lost_window_months == 0:
        return np.ones(gap.shape, dtype=bool)
    return (window_for_gap(gap, cfg) == cfg.lost_window_months) & ~np.isnan(gap)


def gone_by_rhythm(panel: Panel, op: OrdersPanel, cfg: LabelsConfig) -> np.ndarray:
    """True where an account is gone, shape `(A, M + 1)`: it has history before its lost window
    (`lost_window`) and — for a regular buyer (`regular_buyer`) — revenue in that window at most
    `retained_share` of its usual monthly revenue (the 12 months before the window) × the window:
    business fallen away; for any other account no order in it: silence beyond its own rhythm.
    Revenue over a few months says nothing of an account that orders a few times a year (one
    order of a different size), so for those only silence counts."""
    cols = np.arange(panel.n_months + 1)
    window = lost_window(op, cols, cfg)
    regular = regular_buyer(op, cols, cfg)
    gone = np.zeros(window.shape, dtype=bool)
    for w in np.unique(window):
        at = window == w
        too_young = op.first_col[:, None] >= (cols - w)[None, :]  # no order before the last w months
        recent = window_sum(op.revenue, cols - w, w)
        usual_before = usual_monthly_revenue(panel, op, cols - w)  # usual as it was w months ago
        fell = ~(recent > cfg.retained_share * usual_before * w)
        silent = window_sum(op.lines, cols - w, w) == 0
        gone[at] = (np.where(regular, fell, silent) & ~too_young)[at]
    return gone


def lost_to_competitor(outcomes: pd.DataFrame, ev: Events) -> np.ndarray:
    """Mask of the placed outcome rows `ev` whose reason is `competitor` (a switch)."""
    reason = ev.column(outcomes, "reason").str.strip().str.lower()
    return (reason == "competitor").fillna(False).to_numpy(dtype=bool)


def make_labels(
    panel: Panel,
    op: OrdersPanel,
    status: AccountStatus,
    outcomes: pd.DataFrame | None,
    signals: pd.DataFrame | None,
    cfg: LabelsConfig,
) -> dict[str, np.ndarray]:
    """Churn and switch labels at the snapshot columns, `(A, J)` floats (1.0 / 0.0, NaN when the
    window is not inside the data or the account is out of scope), and `labelled`, `(J,)`."""
    c = panel.cols
    H = cfg.horizon_months
    labelled = c + H <= panel.data_end
    future = window_sum(op.revenue, c, H)
    usual = usual_monthly_revenue(panel, op, c)
    fell = future <= cfg.retained_share * usual * H
    silent = window_sum(op.lines, c, H) == 0
    churn = np.where(regular_buyer(op, c, cfg), fell, silent)
    evidence = np.zeros(churn.shape, dtype=bool)

    if outcomes is not None and len(outcomes):
        ev = panel.events(outcomes, "lost_at")
        churn |= window_sum(panel.monthly(ev.acc, ev.month), c, H) > 0
        to_competitor = lost_to_competitor(outcomes, ev)
        if to_competitor.any():
            monthly = panel.monthly(ev.acc[to_competitor], ev.month[to_competitor])
            evidence |= window_sum(monthly, c, H) > 0
    if signals is not None and len(signals) and cfg.switch_signal_kinds:
        ev = panel.events(signals, "observed_at")
        kind = ev.column(signals, "kind").str.strip().str.lower()
        wanted = kind.isin([k.lower() for k in cfg.switch_signal_kinds]).to_numpy(dtype=bool)
        if wanted.any():
            before = cfg.switch_evidence_months_before
            monthly = panel.monthly(ev.acc[wanted], ev.month[wanted])
            evidence |= window_sum(monthly, c - before, before + H) > 0

    valid = labelled[None, :] & status.in_scope[:, c]
    churn_f = np.where(valid, churn.astype(np.float64), np.nan)
    switch_f = np.where(valid, (churn & evidence).astype(np.float64), np.nan)
    return {"churn": churn_f, "switch": switch_f, "labelled": labelled}


def label_rates(frame: pd.DataFrame) -> pd.DataFrame:
    """Per snapshot: rows, rows in scope, whether its label window is inside the data, and the
    churn and switch rates among its labelled rows."""
    return frame.groupby("snapshot", sort=True).agg(
        rows=("account_id", "size"),
        in_scope=("in_scope", "sum"),
        labelled=("labelled", "any"),
        churn=("churn", "mean"),
        switch=("switch", "mean"),
    )
