"""The account × month panel: the grid every feature family aggregates into.

Each table is read once: its rows are placed into (account, month) cells with `np.bincount` or
`np.maximum.at`, giving dense `(accounts, months)` arrays. Features at a snapshot are windows
over those arrays, so building every snapshot costs rows + accounts × months, never
rows × snapshots.

Conventions used by every family:
- months are counted from the grid start: column `m` of a monthly array (shape `(A, M)`) holds
  the events dated in month `m`;
- a snapshot column `j` (shape `(A, M + 1)` arrays, `j = 0..M`) stands for the first day of month
  `j` and only sees months `< j` — the point-in-time rule "features at t use rows dated before t";
- a window of `w` months before snapshot `j` is months `[j - w, j)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np
import pandas as pd

from churnml.parallel import run_all, workers

DAYS_PER_MONTH = 30.4375
# Rows dated more than this many months before the first order only count in "ever" features
# (their month is clipped to the first column); it keeps a typo like 1900-01-01 from
# allocating a century of empty months.
MAX_LOOKBACK_MONTHS = 36


def month_numbers(values: pd.Series | np.ndarray) -> np.ndarray:
    """Months since 1970-01 of each date (int64); NaT gives the smallest int64."""
    return np.asarray(values).astype("datetime64[M]").view(np.int64)


_NS_PER_DAY = 86_400_000_000_000


def day_numbers(values: pd.Series | np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of each date (int64); NaT gives the smallest int64."""
    array = np.asarray(values)
    if array.dtype == "datetime64[ns]":
        # integer division: numpy's unit conversion is several times slower on millions of rows
        ns = array.view(np.int64)
        days = ns // _NS_PER_DAY
        days[ns == NAT_INT] = NAT_INT
        return days
    return array.astype("datetime64[D]").view(np.int64)


NAT_INT = np.iinfo(np.int64).min


def month_start(month_number: int) -> pd.Timestamp:
    """The first day of an absolute month number."""
    return pd.Timestamp(np.datetime64(int(month_number), "M"))


@dataclass
class Events:
    """Rows of one table placed on the grid: panel row, month column and day number of each kept
    row, and `keep`, the mask of kept rows in the table (to pick the table's other columns)."""

    acc: np.ndarray
    month: np.ndarray
    day: np.ndarray
    keep: np.ndarray

    def __len__(self) -> int:
        return len(self.acc)

    def column(self, frame: pd.DataFrame, name: str) -> pd.Series:
        """Column `name` of the kept rows, positionally aligned with the events."""
        values = frame[name]
        return values if self.keep.all() else values[self.keep]


@dataclass
class Panel:
    """The grid: one row per account (in the order of `accounts`), months `start .. start + M - 1`,
    and the snapshot columns at which features are wanted."""

    accounts: pd.Index  # account_id of each panel row
    start: int  # absolute month number of column 0
    n_months: int  # M
    orders_start: int  # column of the first month with an order
    data_end: int  # column of the first month after the latest order
    cols: np.ndarray  # snapshot columns, ascending
    # Table -> its columns with at least one value in the whole extract. A family builds a
    # feature from an optional column when the extract has it, whichever accounts the panel
    # holds (all of them, or a bucket on Spark). None: judged from the rows given.
    filled: Mapping[str, frozenset[str]] | None = None

    @property
    def n_accounts(self) -> int:
        return len(self.accounts)

    @property
    def snapshot_dates(self) -> pd.DatetimeIndex:
        months = (self.start + self.cols).astype("datetime64[M]")
        return pd.DatetimeIndex(months.astype("datetime64[ns]"))

    @property
    def snapshot_days(self) -> np.ndarray:
        """Day number of each snapshot date, shape `(J,)` as float for date arithmetic."""
        return (self.start + self.cols).astype("datetime64[M]").astype("datetime64[D]").astype(
            np.int64
        ).astype(np.float64)

    def has_values(self, table: str, column: str, values: pd.Series | np.ndarray) -> bool:
        """Whether the extract's `table.column` holds any value (`values`: the rows given)."""
        if self.filled is not None:
            return column in self.filled.get(table, ())
        return bool(pd.notna(values).any())

    def rows(self, ids: pd.Series) -> np.ndarray:
        """Panel row of each account id (-1 for an id not in the accounts table)."""
        codes, uniques = codes_of(ids)
        lookup = self.accounts.get_indexer(uniques)
        out = lookup[codes] if len(uniques) else np.full(len(codes), -1, dtype=np.int64)
        out[codes < 0] = -1
        return out.astype(np.int64, copy=False)

    def events(self, frame: pd.DataFrame, date_col: str, id_col: str = "account_id") -> Events:
        """Place the rows of `frame` on the grid by `date_col`; rows with no date, an unknown
        account, or a month past the grid end are dropped (no snapshot can see them)."""
        acc = self.rows(frame[id_col])
        days = day_numbers(frame[date_col])
        keep = (acc >= 0) & (days != NAT_INT)
        if not keep.all():
            acc, days = acc[keep], days[keep]
        months = months_of_days(days)
        months -= self.start  # in place: the order table can be tens of millions of rows
        np.maximum(months, 0, out=months)
        if (months >= self.n_months).any():
            inside = months < self.n_months
            acc, months, days = acc[inside], months[inside], days[inside]
            keep[np.flatnonzero(keep)[~inside]] = False
        return Events(acc=acc, month=months, day=days, keep=keep)

    # --- monthly aggregates -------------------------------------------------------------

    def counts_by_level(
        self, ev: "Events", values: pd.Series, levels: list[str], prefix: str, window: int, table: str
    ) -> dict[str, np.ndarray]:
        """Events of each level of `values` (e.g. complaint category) in the `window` months before
        each snapshot: `{f"{prefix}_{level}_{window}m": (A, J)}`; nothing when the extract's
        column is empty."""
        if not self.has_values(table, str(values.name), values):
            return {}
        codes = category_codes(values.str.strip().str.lower(), levels)
        out = {}
        for k, level in enumerate(levels):
            hit = codes == k
            monthly = self.monthly(ev.acc[hit], ev.month[hit])
            out[f"{prefix}_{level}_{window}m"] = window_sum(monthly, self.cols - window, window).astype(np.float64)
        return out

    def monthly(self, acc: np.ndarray, month: np.ndarray, weights=None) -> np.ndarray:
        """Sum of `weights` (or the row count) per account and month, shape `(A, M)`."""
        return self.by_cell(acc * self.n_months + month, weights)

    def by_cell(self, cell: np.ndarray, weights=None) -> np.ndarray:
        """`monthly` of rows already numbered by cell (`account * M + month`: worked out once
        when many sums share it); a cell past the grid (a spare one for rows that do not count)
        is dropped. Shape `(A, M)`."""
        size = self.n_accounts * self.n_months
        return np.bincount(cell, weights=weights, minlength=size)[:size].reshape(self.n_accounts, self.n_months)

    def last_before(self, acc: np.ndarray, month: np.ndarray, value: np.ndarray) -> np.ndarray:
        """Largest `value` among events in months before each column, shape `(A, M + 1)`,
        NaN when there is none; with day numbers as values, the date of the last event."""
        cell = np.full(self.n_accounts * self.n_months, -np.inf)
        np.maximum.at(cell, acc * self.n_months + month, value.astype(np.float64))
        out = np.full((self.n_accounts, self.n_months + 1), -np.inf)
        np.maximum.accumulate(cell.reshape(self.n_accounts, self.n_months), axis=1, out=out[:, 1:])
        out[out == -np.inf] = np.nan
        return out

    def intervals(self, acc: np.ndarray, first: np.ndarray, last: np.ndarray) -> np.ndarray:
        """How many items are active at each column, shape `(A, M + 1)`; item `i` is active on
        columns `first[i] .. last[i]` inclusive (empty when last < first)."""
        width = self.n_months + 2
        first = np.clip(first, 0, self.n_months + 1)
        last = np.clip(last, -1, self.n_months)
        ok = last >= first
        diff = np.zeros(self.n_accounts * width, dtype=np.int64)
        np.add.at(diff, acc[ok] * width + first[ok], 1)
        np.add.at(diff, acc[ok] * width + last[ok] + 1, -1)
        return np.cumsum(diff.reshape(self.n_accounts, width), axis=1)[:, : self.n_months + 1]

    def distinct_in_windows(
        self, acc: np.ndarray, key: np.ndarray, month: np.ndarray, n_keys: int, windows: tuple[int, ...]
    ) -> dict[int, np.ndarray]:
        """For each window w: how many distinct keys (e.g. product lines) each account has events
        for in the w months before each column, shape `(A, M + 1)`."""
        M = self.n_months
        ok = key >= 0
        # numbered account, then key, then month: the distinct ones come out in that order
        combo = (acc * n_keys + key) * M + month
        if not ok.all():
            combo = combo[ok]
        size = self.n_accounts * n_keys * M
        if size <= 2**28:
            # a bitmap is linear in the rows; np.unique would sort them
            seen = np.zeros(size, dtype=bool)
            seen[combo] = True
            del combo
            found = np.flatnonzero(seen)
        else:
            found = np.unique(combo)
        pair, mon = np.divmod(found, M)
        a, k = np.divmod(pair, n_keys)
        # a key bought in month m counts at columns m+1 .. m+w, up to its next purchase
        nxt = np.full(len(mon), np.iinfo(np.int64).max)
        same = (a[1:] == a[:-1]) & (k[1:] == k[:-1])
        nxt[:-1][same] = mon[1:][same]
        return {w: self.intervals(a, mon + 1, np.minimum(np.minimum(mon + w, nxt), M)) for w in windows}

    # --- windows at the snapshot columns --------------------------------------------------


def window_sum(x: np.ndarray, starts: np.ndarray, width: int) -> np.ndarray:
    """Sum of columns `starts + 0 .. starts + width - 1` of `x` for each start, shape
    `(A, len(starts))`; columns outside `x` count as zero. Summed column by column (not as a
    difference of cumulative sums) so that an empty window is exactly zero."""
    n_cols = x.shape[1]
    out = np.zeros((x.shape[0], len(starts)), dtype=np.result_type(x.dtype, np.int64))
    if len(starts) > 1 and (np.diff(starts) == 1).all():
        # consecutive snapshots (the usual case): add column slices, views rather than copies
        for k in range(width):
            lo, hi = starts[0] + k, starts[-1] + k + 1
            a, b = max(lo, 0), min(hi, n_cols)
            if a < b:
                out[:, a - lo : b - lo] += x[:, a:b]
        return out
    for k in range(width):
        idx = starts + k
        ok = (idx >= 0) & (idx < n_cols)
        if ok.all():
            out += x[:, idx]
        elif ok.any():
            out[:, ok] += x[:, idx[ok]]
    return out


def window_fmin(x: np.ndarray, starts: np.ndarray, width: int) -> np.ndarray:
    """Smallest non-missing value of columns `starts .. starts + width - 1` (NaN when all are
    missing or outside `x`), shape `(A, len(starts))`."""
    n_cols = x.shape[1]
    out = np.full((x.shape[0], len(starts)), np.nan)
    for k in range(width):
        idx = starts + k
        ok = (idx >= 0) & (idx < n_cols)
        if ok.any():
            out[:, ok] = np.fmin(out[:, ok], x[:, idx[ok]])
    return out


def ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den, NaN where den is not positive (a share of nothing is unknown, not zero)."""
    out = np.full(np.broadcast_shapes(num.shape, den.shape), np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def category_codes(values: pd.Series, levels: list[str], other: str | None = "other") -> np.ndarray:
    """Code of each value in `levels` (-1 when missing); an unknown value counts as `other`."""
    codes = pd.Index(levels).get_indexer(values).astype(np.int64)
    if other is not None and other in levels:
        unknown = (codes < 0) & np.asarray(values.notna())
        codes[unknown] = levels.index(other)
    return codes


def codes_of(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """(code of each value, -1 when missing; the distinct values): a category's own codes, else
    `pd.factorize`'s."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.cat.codes.to_numpy().astype(np.int64), values.cat.categories
    codes, uniques = pd.factorize(values)
    return np.asarray(codes, dtype=np.int64), pd.Index(uniques)


def days_or_nan(values: pd.Series) -> np.ndarray:
    """Day numbers as float64 with NaN for a missing date."""
    days = day_numbers(values)
    out = days.astype(np.float64)
    out[days == NAT_INT] = np.nan
    return out


def months_of_days(days: np.ndarray) -> np.ndarray:
    """Months since 1970-01 of day numbers (no missing values allowed)."""
    days = np.asarray(days, dtype=np.int64)
    if len(days) < 4096:
        return days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    # a table of the month of every day in the range, looked up: the calendar once per day
    first, last = int(days.min()), int(days.max())
    table = np.arange(first, last + 1).astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    out = np.empty_like(days)
    step = -(-len(days) // workers())

    def look_up(lo: int) -> None:  # `table` covers every day from the smallest to the largest
        np.take(table, days[lo : lo + step] - first, out=out[lo : lo + step], mode="clip")

    run_all(*(lambda lo=lo: look_up(lo) for lo in range(0, len(days), step)))
    return out
