"""Account family: who the account is — industry, region, tier, size, influence, category spend —
and how many months its supply agreement has left.

`accounts` is today's master record. Its descriptive columns are taken as they are at every
snapshot. `contract_end` is today's value too: at an old snapshot it may be a contract that was
signed later, so `contract_months_remaining` is NaN when the known contract had already ended
before t (the agreement in force then is unknown), and otherwise the months from t to its end.
That value can be a renewal signed after t, and for a lost account a contract that was not
renewed: real extracts can leak through it. `months_to_contract_anniversary` (months from t to
the next anniversary of `contract_end`) is free of that, and is the renewal date whenever
contracts run for whole years.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from churnml.features.panel import DAYS_PER_MONTH, Panel, days_or_nan

NAME = "account"
TABLES = ("accounts",)
CATEGORICAL = ("industry", "region", "tier")
NUMERIC = ("employees", "influence", "category_spend")


def levels(accounts: pd.DataFrame) -> dict[str, list[str]]:
    """The categories of each descriptive column with values: its distinct values, sorted."""
    return {
        name: sorted(accounts[name].dropna().astype(str).unique())
        for name in CATEGORICAL
        if accounts[name].notna().any()
    }


def build(
    panel: Panel, accounts: pd.DataFrame, categories: dict[str, list[str]]
) -> tuple[dict[str, np.ndarray], dict[str, pd.Categorical]]:
    """Numeric account features at the snapshot columns (`(A, J)` arrays) and the categorical
    ones as one `pd.Categorical` per account (the same at every snapshot), with the
    `categories` of the whole accounts table (`levels`)."""
    J = len(panel.cols)
    numeric: dict[str, np.ndarray] = {}
    categorical: dict[str, pd.Categorical] = {}
    for name, known in categories.items():
        categorical[name] = pd.Categorical(accounts[name].astype(object), categories=known)
    for name in NUMERIC:
        values = accounts[name].to_numpy(dtype=np.float64, na_value=np.nan)
        if panel.has_values("accounts", name, values):
            numeric[name] = np.broadcast_to(values[:, None], (len(values), J))
    end = days_or_nan(accounts["contract_end"])
    if panel.has_values("accounts", "contract_end", end):
        remaining = (end[:, None] - panel.snapshot_days[None, :]) / DAYS_PER_MONTH
        numeric["contract_months_remaining"] = np.where(remaining >= 0, remaining, np.nan)
        # Contracts run for whole years, so the month of year of their end is the renewal
        # season of every contract of the account, known at any snapshot without leaking.
        numeric["months_to_contract_anniversary"] = np.mod(remaining, 12.0)
    return numeric, categorical
