"""A short description of the input tables, for `churnml validate` and logs."""

from __future__ import annotations

import math
from typing import Mapping

import numpy as np
import pandas as pd

from churnml.data.contract import TABLES


def summarize_tables(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per table present: `table, rows, accounts, first, last` (the range of its main date)."""
    rows = []
    for name, spec in TABLES.items():
        if name not in tables:
            continue
        frame = tables[name]
        date_col = spec.date or (spec.dates[0] if spec.dates else None)
        dates = frame[date_col] if date_col else pd.Series(dtype="datetime64[ns]")
        rows.append(
            {
                "table": name,
                "rows": len(frame),
                "accounts": int(frame["account_id"].nunique()),
                "date_column": date_col,
                "first": dates.min(),
                "last": dates.max(),
            }
        )
    return pd.DataFrame(rows, columns=["table", "rows", "accounts", "date_column", "first", "last"])


def revenue_by_account(tables: Mapping[str, pd.DataFrame]) -> pd.Series:
    """Total net revenue of every account (index `account_id`), 0 for an account without orders."""
    revenue = tables["orders"].groupby("account_id")["net_amount"].sum()
    return revenue.reindex(pd.Index(tables["accounts"]["account_id"]).union(revenue.index), fill_value=0.0)


def top_share(revenue, top: float = 0.2) -> float:
    """Share of the total of `revenue` (one value per account) held by the largest `top`
    fraction of the accounts, rounded up to a whole account (NaN without revenue)."""
    if not 0 < top <= 1:
        raise ValueError(f"top must be a fraction in (0, 1]; got {top!r}")
    values = np.sort(np.asarray(revenue, dtype="float64"))[::-1]
    total = values.sum()
    if len(values) == 0 or not total > 0:
        return float("nan")
    return float(values[: max(1, math.ceil(top * len(values) - 1e-9))].sum() / total)


def top_revenue_share(tables: Mapping[str, pd.DataFrame], top: float = 0.2) -> float:
    """Share of total net revenue earned from the top `top` fraction of accounts (NaN without revenue).

    Accounts without orders count, with no revenue: a fifth of all accounts, not of buyers.
    """
    return top_share(revenue_by_account(tables), top)
