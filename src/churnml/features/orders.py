"""Orders family: revenue, lines, trends, recency, breadth, discounts, delivery, share of wallet.

`aggregate` makes the one pass over the order lines (the largest table by far) into monthly
arrays; `build` turns them into features at the snapshot columns. Scope and labels
(`churnml.features.labels`) reuse the same aggregates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from churnml.features.panel import (
    DAYS_PER_MONTH,
    NAT_INT,
    Panel,
    codes_of,
    day_numbers,
    days_or_nan,
    months_of_days,
    ratio,
    window_sum,
)
from churnml.parallel import run_all

NAME = "orders"
TABLES = ("orders",)


@dataclass
class OrdersPanel:
    """Monthly aggregates of the order lines; optional parts are None when the column is absent."""

    revenue: np.ndarray  # (A, M) net amount by order month
    lines: np.ndarray  # (A, M) order lines by order month
    last_day: np.ndarray  # (A, M + 1) day number of the last order before each column
    first_col: np.ndarray  # (A,) month column of the first order (M + 1 when none)
    first_day: np.ndarray  # (A,) day number of the first order (NaN when none)
    list_net: np.ndarray | None = None  # net amount of the lines that have a list_amount
    list_amount: np.ndarray | None = None
    custom_revenue: np.ndarray | None = None
    deliveries: np.ndarray | None = None  # by the month the delivery became known
    on_time: np.ndarray | None = None
    late_days: np.ndarray | None = None
    lines_12m: np.ndarray | None = None  # (A, M + 1) distinct product lines in 12 months
    lines_6m: np.ndarray | None = None  # (A, M + 1) distinct product lines in 6 months
    order_days: np.ndarray | None = None  # (A, M) distinct days with an order, by month
    gap_sum: np.ndarray | None = None  # (A, M) days between consecutive order days, by the later one's month
    gap_sq: np.ndarray | None = None  # (A, M) squares of those gaps
    gap_n: np.ndarray | None = None  # (A, M) how many gaps


def aggregate(panel: Panel, orders: pd.DataFrame) -> OrdersPanel:
    """One pass over the order lines into the monthly arrays of `OrdersPanel`.

    Tens of millions of lines go through here: each step is one vectorised pass over them
    (a count or sum into cells by `np.bincount`, a mask), what only needs one row per account
    and order day is worked out on those rows (`_order_day_rhythm`), far fewer, and the four
    independent parts run side by side (`churnml.parallel`)."""
    ev = panel.events(orders, "order_date")
    A, M = panel.n_accounts, panel.n_months
    op = OrdersPanel(
        revenue=np.empty(0), lines=np.empty(0), last_day=np.empty(0),
        first_col=np.full(A, M + 1, dtype=np.int64), first_day=np.full(A, np.nan),
    )
    run_all(
        lambda: _sums(panel, op, ev, orders),
        lambda: _order_day_rhythm(panel, op, ev),
        lambda: _deliveries(panel, op, ev, orders),
        lambda: _product_lines(panel, op, ev, orders),
    )
    return op


def _sums(panel: Panel, op: OrdersPanel, ev, orders: pd.DataFrame) -> None:
    """Revenue and lines by account and order month, with the list amounts and the custom
    revenue when the extract has them."""
    cell = ev.acc * panel.n_months + ev.month
    net = _amounts(ev.column(orders, "net_amount"))
    if np.isnan(net).any():
        net = np.nan_to_num(net, nan=0.0)  # a copy: `net` may be the table's own array
    op.revenue = panel.by_cell(cell, net)
    op.lines = panel.by_cell(cell)

    listed = _amounts(ev.column(orders, "list_amount"))
    if panel.has_values("orders", "list_amount", listed):
        has_list = ~np.isnan(listed)
        op.list_net = panel.by_cell(cell, np.where(has_list, net, 0.0))
        op.list_amount = panel.by_cell(cell, np.where(has_list, listed, 0.0))
        del has_list
    del listed

    custom = ev.column(orders, "custom")
    if panel.has_values("orders", "custom", custom):
        is_custom = custom.to_numpy(dtype=bool, na_value=False)
        op.custom_revenue = panel.by_cell(cell, np.where(is_custom, net, 0.0))


def _product_lines(panel: Panel, op: OrdersPanel, ev, orders: pd.DataFrame) -> None:
    """Distinct product lines bought in the 12 and 6 months before each column."""
    product = ev.column(orders, "product_line")
    if panel.has_values("orders", "product_line", product):
        codes, uniques = codes_of(product)
        counts = panel.distinct_in_windows(ev.acc, codes, ev.month, len(uniques), (12, 6))
        op.lines_12m, op.lines_6m = counts[12], counts[6]


def _deliveries(panel: Panel, op: OrdersPanel, ev, orders: pd.DataFrame) -> None:
    """Deliveries, those on time and days late, by account and the month the delivery became
    known: once it happened, and not before the order was placed (when the extract has both dates)."""
    promised_at, delivered_at = ev.column(orders, "promised_date"), ev.column(orders, "delivered_date")
    if not (panel.has_values("orders", "promised_date", promised_at)
            and panel.has_values("orders", "delivered_date", delivered_at)):
        return
    promised, delivered = day_numbers(promised_at), day_numbers(delivered_at)
    A, M = panel.n_accounts, panel.n_months
    known = (promised != NAT_INT) & (delivered != NAT_INT)
    month_known = months_of_days(np.where(known, np.maximum(delivered, ev.day), ev.day)) - panel.start
    # every line that does not count goes to one extra cell past the end, dropped after the sums
    cell = np.where(known & (month_known < M), ev.acc * M + month_known, A * M)
    del month_known
    with np.errstate(over="ignore"):  # a missing date's difference is never used
        late = np.where(known, delivered - promised, 0).astype(np.float64)
    del known
    op.deliveries = panel.by_cell(cell).astype(np.float64)
    op.on_time = panel.by_cell(cell, (late <= 0).astype(np.float64))
    op.late_days = panel.by_cell(cell, np.maximum(late, 0.0))


def _amounts(values: pd.Series) -> np.ndarray:
    """An amount column as float64 (NaN when missing), without a copy when it is one already."""
    return values.to_numpy(dtype=np.float64, na_value=np.nan)


def _order_day_rhythm(panel: Panel, op: OrdersPanel, ev) -> None:
    """From the distinct (account, order day) pairs: the first and the last order day of each
    account and month, distinct order days per account and month, and the gaps between
    consecutive order days (counted in the month of the later one): frequency and rhythm as the
    order log shows them, however many lines an order has."""
    A, M = panel.n_accounts, panel.n_months
    if len(ev) == 0:  # no order of these accounts: zero everywhere
        op.order_days, op.gap_sum, op.gap_sq, op.gap_n = (np.zeros((A, M)) for _ in range(4))
        op.last_day = np.full((A, M + 1), np.nan)
        return
    first, last = int(ev.day.min()), int(ev.day.max())
    width = last - first + 1
    combo = ev.acc * width + (ev.day - first)
    if A * width <= 2**28:
        # a bitmap is linear in the rows; np.unique would sort them
        seen = np.zeros(A * width, dtype=bool)
        seen[combo] = True
        found = np.flatnonzero(seen)
        del seen
    else:
        found = np.unique(combo)
    del combo
    acc, day = np.divmod(found, width)  # sorted by account, then day
    day += first
    month = np.maximum(months_of_days(day) - panel.start, 0)
    # first order of each account: the first of its pairs
    starts = np.flatnonzero(np.r_[True, acc[1:] != acc[:-1]])
    op.first_col[acc[starts]] = month[starts]
    op.first_day[acc[starts]] = day[starts]
    # the last order day of each (account, month) cell, carried forward to later columns
    cell = acc * M + month
    ends = np.flatnonzero(np.r_[cell[1:] != cell[:-1], True])
    latest = np.full(A * M, -np.inf)
    latest[cell[ends]] = day[ends]
    op.last_day = np.full((A, M + 1), -np.inf)
    np.maximum.accumulate(latest.reshape(A, M), axis=1, out=op.last_day[:, 1:])
    op.last_day[op.last_day == -np.inf] = np.nan
    op.order_days = panel.by_cell(cell).astype(np.float64)
    # the gap before each order day, counted in its cell; 0 (and not counted) for an account's first
    same = acc[1:] == acc[:-1]
    gap = np.diff(day).astype(np.float64)
    gap[~same] = 0.0
    later = cell[1:]
    op.gap_sum = panel.by_cell(later, gap)
    op.gap_sq = panel.by_cell(later, gap * gap)
    op.gap_n = panel.by_cell(later, same)


def cumulative(monthly: np.ndarray) -> np.ndarray:
    """Sum of every month before each column, shape `(A, M + 1)` (column 0 is zero)."""
    total = np.zeros((monthly.shape[0], monthly.shape[1] + 1))
    np.cumsum(monthly, axis=1, out=total[:, 1:])
    return total


def before(monthly: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Sum of every month before each column (all history), shape `(A, len(cols))`."""
    return cumulative(monthly)[:, np.minimum(cols, monthly.shape[1])]


def usual_monthly_revenue(panel: Panel, op: OrdersPanel, cols: np.ndarray) -> np.ndarray:
    """Average monthly net revenue over the 12 months before each column, or since the first
    order when that is shorter; NaN before the first order. Shape `(A, len(cols))`."""
    months_known = np.clip(cols[None, :] - op.first_col[:, None], 0, 12)
    return ratio(window_sum(op.revenue, cols - 12, 12), months_known.astype(np.float64))


def build(panel: Panel, op: OrdersPanel, accounts: pd.DataFrame, horizon: int) -> dict[str, np.ndarray | None]:
    """Order features at the snapshot columns, each of shape `(A, J)`; `horizon` is the label
    window in months (seasonality and BG/NBD look that far ahead). Features that compare with
    other accounts are None, with the account's own part in `_` columns (`churnml.features.across`)."""
    c = panel.cols
    R, L = op.revenue, op.lines
    out: dict[str, np.ndarray] = {}
    for w in (1, 3, 6, 12):
        out[f"revenue_{w}m"] = window_sum(R, c - w, w)
    for w in (1, 3, 6, 12):
        out[f"lines_{w}m"] = window_sum(L, c - w, w).astype(np.float64)
    rev3, rev12 = out["revenue_3m"], out["revenue_12m"]
    out["usual_monthly_revenue"] = usual_monthly_revenue(panel, op, c)

    # Comparisons need the whole comparison window inside the order data.
    def inside(first_month: np.ndarray) -> np.ndarray:
        return np.broadcast_to(first_month >= panel.orders_start, rev3.shape)

    out["revenue_trend_3v3"] = np.where(inside(c - 6), ratio(rev3, window_sum(R, c - 6, 3)) - 1, np.nan)
    out["revenue_trend_yoy"] = np.where(inside(c - 15), ratio(rev3, window_sum(R, c - 15, 3)) - 1, np.nan)

    # Slope and volatility of the last 12 monthly revenues, relative to their mean, over the
    # months the data covers (at least 3): a short extract still shows a trend.
    n, sx, sxx, sy, sxy, syy = (np.zeros_like(rev12) for _ in range(6))
    for k in range(12):
        covered = np.broadcast_to((c - 12 + k >= panel.orders_start).astype(np.float64), rev12.shape)
        month = window_sum(R, c - 12 + k, 1) * covered
        n += covered
        sx += k * covered
        sxx += k * k * covered
        sy += month
        sxy += k * month
        syy += month**2
    mean = ratio(sy, n)
    slope = ratio(n * sxy - sx * sy, n * sxx - sx**2)
    enough = n >= 3
    out["revenue_slope_12m"] = np.where(enough, ratio(slope, mean), np.nan)
    spread = np.sqrt(np.clip(ratio(syy, n) - mean**2, 0.0, None))
    out["revenue_volatility_12m"] = np.where(enough, ratio(spread, mean), np.nan)

    # A business that shrinks does so over many months: the last 6 months against the account's
    # whole history before them (at least 6 months of it), and the last 3 against at least 2
    # months before them (what a short extract shows). Line counts are steadier than revenue.
    for name, monthly in (("revenue", R), ("lines", L)):
        for w, least in ((6, 6), (3, 2)):
            recent = out[f"{name}_{w}m"]
            out[f"{name}_{w}m_vs_history"] = _vs_history(monthly, recent, op.first_col, c, w, least)
    out["lines_trend_3v3"] = np.where(
        inside(c - 6), ratio(out["lines_3m"], window_sum(L, c - 6, 3).astype(np.float64)) - 1, np.nan
    )

    active = window_sum((L > 0).astype(np.int64), c - 12, 12).astype(np.float64)
    out["active_months_12m"] = active
    since_last = (panel.snapshot_days[None, :] - op.last_day[:, c]) / DAYS_PER_MONTH
    out["months_since_last_order"] = since_last
    months_known = np.clip(c[None, :] - op.first_col[:, None], 0, 12).astype(np.float64)
    out["recency_vs_usual_gap"] = ratio(since_last, ratio(months_known, active))
    out["tenure_months"] = tenure_months(panel, op, accounts)
    out["tenure_is_lower_bound"] = tenure_censored(panel, op, accounts)
    # How much of the past the extract shows at this snapshot (the same for every account).
    out["history_months"] = np.broadcast_to((c - panel.orders_start).astype(np.float64), rev3.shape).copy()
    # What the account bought in the coming months' counterpart a year ago, against its usual:
    # a seasonal buyer's quiet months are not a loss.
    # At most 12 months wide: a longer window would reach past the snapshot.
    width = min(horizon, 12)
    last_year = window_sum(R, c - 12, width)
    out["revenue_same_months_last_year"] = np.where(
        inside(c - 12), ratio(last_year, out["usual_monthly_revenue"] * width), np.nan
    )
    if op.order_days is not None:
        out.update(rhythm(panel, op, c, horizon))

    if op.lines_12m is not None:
        out["product_lines_12m"] = op.lines_12m[:, c].astype(np.float64)
        change = op.lines_6m[:, c] - op.lines_6m[:, np.maximum(c - 6, 0)]
        out["product_lines_change"] = np.where(inside(c - 12), change, np.nan)
    if op.list_amount is not None:
        out["discount_depth_12m"] = 1.0 - ratio(
            window_sum(op.list_net, c - 12, 12), window_sum(op.list_amount, c - 12, 12)
        )
    if op.deliveries is not None:
        for w in (3, 12):
            out[f"on_time_rate_{w}m"] = ratio(
                window_sum(op.on_time, c - w, w), window_sum(op.deliveries, c - w, w)
            )
        # Late deliveries above the account's own usual level, and above its region's (a
        # plant crunch makes everyone late; an account outgrowing our capacity is late alone).
        out["on_time_rate_change_3v12"] = out["on_time_rate_3m"] - out["on_time_rate_12m"]
        if panel.has_values("accounts", "region", accounts["region"]):
            # finished across the accounts (`churnml.features.across`): own part of the region's
            out["on_time_rate_vs_region_3m"] = None
            out["_region_on"] = window_sum(op.on_time, c - 3, 3).astype(np.float64)
            out["_region_all"] = window_sum(op.deliveries, c - 3, 3).astype(np.float64)
        out["late_days_mean_12m"] = ratio(
            window_sum(op.late_days, c - 12, 12), window_sum(op.deliveries, c - 12, 12)
        )
    if op.custom_revenue is not None:
        out["custom_revenue_share_12m"] = ratio(window_sum(op.custom_revenue, c - 12, 12), rev12)
    spend = accounts["category_spend"].to_numpy(dtype=np.float64, na_value=np.nan)
    if panel.has_values("accounts", "category_spend", spend):
        out["share_of_wallet"] = ratio(rev12, np.nan_to_num(spend, nan=-1.0)[:, None])
    return out


def rhythm(panel: Panel, op: OrdersPanel, c: np.ndarray, horizon: int) -> dict[str, np.ndarray]:
    """Frequency in distinct order days, inter-order gaps against the account's own rhythm, and
    each account's part of BG/NBD's P(alive) and expected order days over the horizon (finished
    across the accounts). Each of shape `(A, J)`; None for a placeholder."""
    out: dict[str, np.ndarray] = {}
    for w in (3, 12):
        out[f"order_days_{w}m"] = window_sum(op.order_days, c - w, w)
    days_before = before(op.order_days, c)
    gap_n = before(op.gap_n, c)
    gap_mean = ratio(before(op.gap_sum, c), gap_n)
    gap_var = np.clip(ratio(before(op.gap_sq, c), gap_n) - gap_mean**2, 0.0, None)
    out["order_gap_mean_days"] = gap_mean
    out["order_gap_cv"] = np.where(gap_n >= 2, ratio(np.sqrt(gap_var), gap_mean), np.nan)
    t = panel.snapshot_days[None, :]
    last = op.last_day[:, c]
    out["days_since_order_vs_gap"] = ratio(t - last, gap_mean)

    # BG/NBD is fitted on the whole population at each snapshot (`churnml.features.across`);
    # here each account's history before t: repeat order days, and weeks to its last and to t.
    weeks = 7.0
    known = days_before > 0
    out["_bg_x"] = np.where(known, days_before - 1, np.nan)
    out["_bg_tx"] = np.where(known, (last - op.first_day[:, None]) / weeks, np.nan)
    out["_bg_T"] = np.where(known, (t - op.first_day[:, None]) / weeks, np.nan)
    # the account's own pace over the last 12 months (or since its first order)
    months_known = np.clip(c[None, :] - op.first_col[:, None], 0, 12).astype(np.float64)
    out["_bg_pace"] = ratio(out["order_days_12m"], months_known) * horizon
    for name in ("bgnbd_p_alive", "bgnbd_expected_order_days", "bgnbd_expected_vs_pace"):
        out[name] = None
    return out


def tenure_censored(panel: Panel, op: OrdersPanel, accounts: pd.DataFrame) -> np.ndarray:
    """1 where the tenure is only a lower bound: the first order lies in the extract's first
    month and no earlier `since` is known (the account was buying before the extract began);
    0 otherwise, NaN before the account's first order. Shape `(A, J)`."""
    t = panel.snapshot_days[None, :]
    since = days_or_nan(accounts["since"])
    known_start = np.isfinite(since) & (since < op.first_day)
    censored = (op.first_col == panel.orders_start) & ~known_start
    started = op.first_day[:, None] < t
    return np.where(started, censored[:, None].astype(np.float64), np.nan)


def tenure_months(panel: Panel, op: OrdersPanel, accounts: pd.DataFrame) -> np.ndarray:
    """Months since the relationship started (the earlier of `since` and the first order, among
    those before the snapshot), shape `(A, J)`; NaN when neither is before the snapshot."""
    t = panel.snapshot_days[None, :]
    since = days_or_nan(accounts["since"])
    since_known = np.where(since[:, None] < t, since[:, None], np.nan)
    first_known = np.where(op.first_day[:, None] < t, op.first_day[:, None], np.nan)
    return (t - np.fmin(since_known, first_known)) / DAYS_PER_MONTH



def _vs_history(monthly: np.ndarray, recent: np.ndarray, first_col: np.ndarray, c: np.ndarray,
                window: int = 6, least: int = 6) -> np.ndarray:
    """Monthly average of the last `window` months (`recent`, their sum) against the monthly
    average of every month from the account's first order to `window` months before the
    snapshot, minus 1; NaN with fewer than `least` such months or none of them with orders.
    Shape `(A, len(c))`."""
    total = cumulative(monthly)
    edge = np.clip(c - window, 0, monthly.shape[1])[None, :]
    first = np.minimum(first_col, monthly.shape[1])[:, None]
    months = (edge - first).astype(np.float64)
    rows = np.arange(monthly.shape[0])[:, None]
    before = (
        total[rows, np.broadcast_to(edge, months.shape)]
        - total[rows, np.broadcast_to(np.minimum(first, edge), months.shape)]
    )
    out = ratio(recent / float(window), ratio(before, months)) - 1
    return np.where(months >= least, out, np.nan)
