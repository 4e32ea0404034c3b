"""Win-back: the accounts already gone, listed with what they used to buy."""

from __future__ import annotations

import numpy as np
import pandas as pd

from churnml.scoring.risk_list import account_info

WIN_BACK_COLUMNS = ["account_id", "name", "account_manager", "industry", "tier", "last_order_month", "revenue_12m"]


def win_back_list(
    features_at_t: pd.DataFrame, accounts: pd.DataFrame, orders: pd.DataFrame, as_of: pd.Timestamp
) -> pd.DataFrame:
    """Accounts already gone at `as_of` (`recently_lost`): not scored but listed for win-back with
    their last order month and trailing-12-month revenue, largest revenue first."""
    lost = features_at_t[features_at_t["recently_lost"].astype(bool)]
    ids = lost["account_id"].astype("str")
    info = account_info(accounts)
    before = orders[(orders["order_date"] < pd.Timestamp(as_of)) & (orders["net_amount"] > 0)]
    last = before.groupby(before["account_id"].astype("str"))["order_date"].max()
    out = pd.DataFrame({"account_id": ids.to_numpy()})
    for col in ("name", "account_manager", "industry", "tier"):
        out[col] = out["account_id"].map(info[col]) if col in info else np.nan
    last_month = out["account_id"].map(last)
    out["last_order_month"] = last_month.dt.strftime("%Y-%m").where(last_month.notna(), None).astype("str")
    out["revenue_12m"] = lost["revenue_12m"].astype("float64").to_numpy()
    out = out.sort_values(["revenue_12m", "account_id"], ascending=[False, True], kind="mergesort")
    return out.reset_index(drop=True)[WIN_BACK_COLUMNS]
