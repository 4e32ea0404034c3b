"""What the charts show, as frames both outputs draw: revenue at risk by manager and by
industry, the value × risk matrix, and the top accounts' risk over the last lists."""

from __future__ import annotations

import numpy as np
import pandas as pd

from churnml.report import group_key

# The value × risk matrix: high value = the top 20 % of the list by revenue (the key accounts);
# high risk = in a risk band. Each quadrant has its own service.
QUADRANTS = {
    (True, True): "defend",  # valuable and at risk: the retention work
    (True, False): "develop",  # valuable and safe: grow the business
    (False, True): "watch",  # at risk but small: keep an eye, act cheaply
    (False, False): "maintain",  # small and safe: the usual service
}
TOP_VALUE_SHARE = 0.2


def by_group(risk_list: pd.DataFrame, column: str, n: int = 12) -> pd.DataFrame:
    """Revenue at risk of the `n` values of `column` with the most, largest first. The rest are
    not a bar (a sum of many small groups would dwarf the ones to act on): `others_words` says
    what they hold, from `.attrs["others"]` = (how many, their revenue at risk)."""
    key = group_key(risk_list, column)
    sums = risk_list.groupby(key)["revenue_at_risk"].sum().sort_values(ascending=False, kind="mergesort")
    out = sums.iloc[:n].rename_axis(column).rename("revenue_at_risk").reset_index()
    out.attrs["others"] = (max(len(sums) - n, 0), float(sums.iloc[n:].sum()))
    return out


def others_words(groups: pd.DataFrame, currency: str) -> str:
    """What the groups left out of a `by_group` chart hold, for its title ("" when none is)."""
    count, amount = groups.attrs.get("others", (0, 0.0))
    if not count:
        return ""
    return f"; {count} others hold {amount:,.0f} {currency}"


def value_risk(risk_list: pd.DataFrame, risk_threshold: float) -> tuple[pd.DataFrame, float]:
    """Each account's 12-month revenue and churn probability with its quadrant, and the revenue
    above which an account counts as high value."""
    revenue = risk_list["revenue_12m"].astype("float64").clip(lower=0)
    value_line = float(revenue.quantile(1 - TOP_VALUE_SHARE)) if len(revenue) else 0.0
    p = risk_list["churn_probability"].astype("float64")
    out = pd.DataFrame({"account_id": risk_list["account_id"], "revenue_12m": revenue, "churn_probability": p})
    out["quadrant"] = [QUADRANTS[(bool(v > value_line), bool(r >= risk_threshold))] for v, r in zip(revenue, p)]
    return out, value_line


def risk_history(history: pd.DataFrame, risk_list: pd.DataFrame, n: int = 8) -> pd.DataFrame:
    """The churn probability of this list's top `n` accounts in the earlier lists and this one:
    rows = months, columns = account names (or ids)."""
    top = risk_list.sort_values("rank").head(n)
    names = dict(zip(top["account_id"].astype(str), top["name"].fillna(top["account_id"]).astype(str)))
    now = top[["as_of", "account_id", "churn_probability"]]
    frames = [now] + ([history[["as_of", "account_id", "churn_probability"]]] if len(history) else [])
    both = pd.concat(frames, ignore_index=True)
    both = both[both["account_id"].astype(str).isin(names)]
    table = both.pivot_table(index="as_of", columns="account_id", values="churn_probability", aggfunc="last")
    table = table.reindex(columns=[a for a in names if a in table.columns]).sort_index()
    table.columns = [names[a] for a in table.columns]
    return table.astype("float64").replace([np.inf, -np.inf], np.nan)
