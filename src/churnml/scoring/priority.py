"""The retention priority of an account, its rank and its risk band. The accounts with a notable
risk (a band above the lowest) are ranked first, each group by priority:

    priority = revenue at risk
               x (1 + w_influence x influence)
               x (1 + w_low_switching_cost x [switching cost < deepest recent competitor discount])

where revenue at risk = churn probability x trailing-12-month revenue, influence is the account's
`influence` in [0, 1] (missing = 0), and the bracket is 1 when a competitor has recently offered
this account a discount deeper than the price margin it can be defended on, else 0.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from churnml.config import LOWEST_BAND, ScoreConfig
from churnml.config import PRIORITY_WEIGHTS as WEIGHT_KEYS
from churnml.constraints import check, check_field

PRIORITY_FORMULA = (
    "priority = revenue at risk × (1 + w_influence × influence) × "
    "(1 + w_low_switching_cost × [switching cost < deepest competitor discount of the last 12 months])"
)

def band_order(bands: Mapping[str, float]) -> list[str]:
    """Band names from the most to the least risky, ending with 'low' (below every threshold)."""
    check_bands(bands)
    return [name for name, _ in sorted(bands.items(), key=lambda kv: (-kv[1], kv[0]))] + [LOWEST_BAND]


def check_bands(bands: Mapping[str, float]) -> None:
    """Raise ConfigError unless `bands` maps names to distinct churn-probability thresholds in (0, 1)."""
    check(ScoreConfig(risk_bands=dict(bands)), "score")


def risk_band(p: pd.Series | np.ndarray, bands: Mapping[str, float]) -> pd.Series:
    """The band of each churn probability: the riskiest band whose threshold it reaches, else 'low'."""
    order = band_order(bands)
    probs = pd.Series(p, dtype="float64")
    out = pd.Series(LOWEST_BAND, index=probs.index, dtype="str")
    # From the least to the most risky, so the riskiest reached threshold wins.
    for name in reversed(order[:-1]):
        out[probs >= float(bands[name])] = name
    return out


def check_weights(weights: Mapping[str, float]) -> dict[str, float]:
    """The priority weights as floats; ConfigError for an unknown key or a negative weight."""
    check_field(ScoreConfig, "weights", dict(weights), "score.weights")
    return {k: float(weights.get(k, 0.0)) for k in WEIGHT_KEYS}


def low_switching_cost(frame: pd.DataFrame) -> pd.Series:
    """True where the account's switching cost is below the deepest competitor discount it was
    recently offered (missing either: False, so no evidence means no uplift)."""
    if "switching_cost" not in frame or "deepest_discount" not in frame:
        return pd.Series(False, index=frame.index)
    cost = pd.to_numeric(frame["switching_cost"], errors="coerce")
    deep = pd.to_numeric(frame["deepest_discount"], errors="coerce")
    return (cost < deep).fillna(False).astype(bool)


def retention_priority(frame: pd.DataFrame, weights: Mapping[str, float]) -> pd.Series:
    """Retention priority per row (see the module docstring for the formula).

    Needs `revenue_at_risk`; uses `influence`, `switching_cost` and `deepest_discount` when present
    (a missing factor counts as no uplift)."""
    w = check_weights(weights)
    rar = pd.to_numeric(frame["revenue_at_risk"], errors="coerce").fillna(0.0)
    influence = (
        pd.to_numeric(frame["influence"], errors="coerce").fillna(0.0).clip(0.0, 1.0)
        if "influence" in frame
        else 0.0
    )
    low_cost = low_switching_cost(frame).astype("float64")
    priority = rar * (1.0 + w["influence"] * influence) * (1.0 + w["low_switching_cost"] * low_cost)
    return priority.astype("float64").rename("priority")


def rank_by_priority(frame: pd.DataFrame) -> pd.Series:
    """Rank 1 = highest priority among the accounts with a notable risk (a `risk_band` above
    the lowest), which all come before the rest; ties broken by account_id so the order is
    reproducible. A large account at its usual low risk has revenue at risk too, but nothing to
    act on: it must not push an account that needs a call off the top of the list."""
    quiet = frame["risk_band"].eq(LOWEST_BAND) if "risk_band" in frame else pd.Series(False, index=frame.index)
    keys = pd.DataFrame({"quiet": quiet, "priority": frame["priority"], "account_id": frame["account_id"]})
    order = keys.sort_values(["quiet", "priority", "account_id"], ascending=[True, False, True], kind="mergesort").index
    rank = pd.Series(np.arange(1, len(order) + 1), index=order, dtype="int64")
    return rank.reindex(frame.index).rename("rank")
