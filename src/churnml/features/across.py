"""What an account's features take from the other accounts: its industry's losses, its region's
deliveries, and the BG/NBD parameters fitted on the whole population at each snapshot.

Every other feature is a function of one account's rows alone, so the accounts can be built in
any grouping (all at once, or in buckets on Spark). The families leave these features as
placeholders and add each account's own part as columns whose names start with `_`:

- sums by group (`GROUP_SUMS`): the account's losses, switches, base and deliveries, summed over
  its industry or region at each snapshot (`<column>_total`);
- the two latest leader losses of the industry (`LEADER`), as `_peer_leader_best` / `_second`;
- the BG/NBD history (`BGNBD`), fitted per snapshot over all accounts by `fit_bgnbd_models`.

`add_totals` computes the group figures with pandas (the Spark engine computes the same with
Spark aggregates), and `finish` turns own part plus totals into the features, row by row.
A row with `_present` False exists only for its part in the totals (an account that does not
exist yet at the snapshot but whose loss is recorded) and is dropped by `finish`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from churnml.features.bgnbd import BgNbd, fit_bgnbd
from churnml.features.panel import DAYS_PER_MONTH, month_numbers, ratio

INDUSTRY, REGION = "_industry", "_region"
# Group key -> the own-part columns summed over the group's accounts at each snapshot.
GROUP_SUMS = {
    INDUSTRY: ["_peer_lost", "_peer_switched", "_peer_base", "_peer_leader_left"],
    REGION: ["_region_on", "_region_all"],
}
# Month number of a leader's latest established loss (-inf: none; NaN: not a leader).
LEADER = "_peer_leader_last"
LEADER_BEST, LEADER_SECOND = "_peer_leader_best", "_peer_leader_second"
BGNBD = ["_bg_x", "_bg_tx", "_bg_T", "_bg_pace"]
PRESENT = "_present"
WEEKS = 7.0


def total(column: str) -> str:
    """Name of the group total of an own-part column."""
    return f"{column}_total"


def _groups(rows: pd.DataFrame, key: str) -> tuple[np.ndarray, int]:
    """Group number of each row by (`key`, snapshot), -1 where the key is missing; and how many."""
    keys, _ = pd.factorize(rows[key])
    snaps, levels = pd.factorize(rows["snapshot"])
    group = np.where(keys >= 0, keys.astype(np.int64) * max(len(levels), 1) + snaps, -1)
    return group, int(group.max()) + 1 if len(group) else 0


def add_totals(rows: pd.DataFrame) -> None:
    """Add the group totals of every own-part column present in `rows` (in place); NaN for a
    row without a group."""
    for key, columns in GROUP_SUMS.items():
        present = [c for c in columns if c in rows]
        if key not in rows or not present:
            continue
        group, n = _groups(rows, key)
        ok = group >= 0
        at = np.maximum(group, 0)
        for c in present:
            sums = np.bincount(group[ok], weights=rows[c].to_numpy(dtype=np.float64)[ok], minlength=max(n, 1))
            rows[total(c)] = np.where(ok, sums[at], np.nan)
    if LEADER in rows and INDUSTRY in rows:
        group, n = _groups(rows, INDUSTRY)
        n = max(n, 1)  # no row with an industry: one empty group, so indexing stays in range
        at = np.maximum(group, 0)
        last = rows[LEADER].to_numpy(dtype=np.float64)
        ok = (group >= 0) & ~np.isnan(last)
        best = np.full(n, -np.inf)
        np.maximum.at(best, group[ok], last[ok])
        has = np.bincount(group[ok], minlength=n) > 0
        is_best = ok & (last == best[at])
        n_best = np.bincount(group[is_best], minlength=n)
        below = np.full(n, -np.inf)
        np.maximum.at(below, group[ok & ~is_best], last[ok & ~is_best])
        # the second of the two latest (a tie at the top counts twice); -inf when no other
        second = np.where(n_best >= 2, best, below)
        known = (group >= 0) & has[at]
        rows[LEADER_BEST] = np.where(known, best[at], np.nan)
        rows[LEADER_SECOND] = np.where(known, second[at], np.nan)


def bgnbd_inputs(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows the BG/NBD fit of each snapshot uses: `snapshot` and the history columns of the
    accounts with an order before it, in row order."""
    known = rows["_bg_x"].notna() & rows.get(PRESENT, True)
    return rows.loc[known, ["snapshot", "_bg_x", "_bg_tx", "_bg_T"]]


def fit_bgnbd_models(inputs: pd.DataFrame) -> dict[pd.Timestamp, BgNbd | None]:
    """One BG/NBD fit per snapshot, from scratch on the histories before it (`bgnbd_inputs`,
    ordered by account as in the accounts table): a feature at t depends on nothing after t."""
    x, t_x, T = (inputs[c].to_numpy(dtype=np.float64) for c in ("_bg_x", "_bg_tx", "_bg_T"))
    snapshots = inputs["snapshot"].to_numpy()
    models = {}
    for snapshot in np.unique(snapshots):
        at = snapshots == snapshot
        models[pd.Timestamp(snapshot)] = fit_bgnbd(x[at], t_x[at], T[at])
    return models


def _own_and_others(rows: pd.DataFrame, column: str) -> tuple[np.ndarray, np.ndarray]:
    own = rows[column].to_numpy(dtype=np.float64)
    return own, rows[total(column)].to_numpy(dtype=np.float64) - own


def _set(rows: pd.DataFrame, name: str, values: np.ndarray) -> None:
    """Fill the placeholder `name`, in its own dtype."""
    if name in rows:
        rows[name] = values.astype(rows[name].dtype, copy=False)


def finish(rows: pd.DataFrame, models: dict[pd.Timestamp, BgNbd | None], horizon: int) -> None:
    """Fill the placeholder features of `rows` from own parts, group totals and `models` (in
    place, row by row: any slice of the rows gives the same values)."""
    if total("_peer_base") in rows:
        _, others_base = _own_and_others(rows, "_peer_base")
        _set(rows, "peer_churn_rate_12m", ratio(_own_and_others(rows, "_peer_lost")[1], others_base))
        if total("_peer_switched") in rows:
            _set(rows, "peer_switch_rate_12m", ratio(_own_and_others(rows, "_peer_switched")[1], others_base))
        if total("_peer_leader_left") in rows:
            others = _own_and_others(rows, "_peer_leader_left")[1]
            _set(rows, "peer_leader_lost_6m", np.where(np.isnan(others), np.nan, (others > 0).astype(float)))
    if LEADER_BEST in rows:
        own = rows[LEADER].to_numpy(dtype=np.float64)
        best = rows[LEADER_BEST].to_numpy(dtype=np.float64)
        # a leader's own loss does not count for itself: it sees the other leaders' latest
        latest = np.where(~np.isnan(own) & (own == best), rows[LEADER_SECOND].to_numpy(dtype=np.float64), best)
        month = month_numbers(rows["snapshot"].to_numpy()).astype(np.float64)
        with np.errstate(invalid="ignore"):
            since = month - latest
        _set(rows, "months_since_peer_leader_lost", np.where(np.isinf(latest) | np.isnan(latest), np.nan, since))
    if total("_region_on") in rows:
        own_on, others_on = _own_and_others(rows, "_region_on")
        own_all, others_all = _own_and_others(rows, "_region_all")
        _set(rows, "on_time_rate_vs_region_3m", ratio(own_on, own_all) - ratio(others_on, others_all))
    if "_bg_x" in rows:
        _finish_bgnbd(rows, models, horizon)


def _finish_bgnbd(rows: pd.DataFrame, models: dict[pd.Timestamp, BgNbd | None], horizon: int) -> None:
    x, t_x, T = (rows[c].to_numpy(dtype=np.float64) for c in ("_bg_x", "_bg_tx", "_bg_T"))
    p_alive = np.full(len(rows), np.nan)
    expected = np.full(len(rows), np.nan)
    ahead = horizon * DAYS_PER_MONTH / WEEKS
    snapshots = rows["snapshot"].to_numpy()
    for snapshot in np.unique(snapshots):
        model = models.get(pd.Timestamp(snapshot))
        if model is None:
            continue
        at = (snapshots == snapshot) & ~np.isnan(x)
        p_alive[at] = model.p_alive(x[at], t_x[at], T[at])
        expected[at] = model.expected_purchases(ahead, x[at], t_x[at], T[at])
    _set(rows, "bgnbd_p_alive", p_alive)
    _set(rows, "bgnbd_expected_order_days", expected)
    # against the account's own pace over the last 12 months (or since its first order)
    _set(rows, "bgnbd_expected_vs_pace", ratio(expected, rows["_bg_pace"].to_numpy(dtype=np.float64)))
