"""Small hand-made inputs for the scoring tests: a features frame at one snapshot, an accounts
table, and a real (tiny) LightGBM churn model whose contributions are LightGBM's pred_contrib."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd

FAMILIES = {
    "orders_revenue_trend_3m": "orders",
    "orders_lines_12m": "orders",
    "complaints_open": "complaints",
    "complaints_oldest_open_days": "complaints",
    "competitor_discount_12m": "competitor",
    "relationship_months_since_exec_visit": "relationship",
    "switching_custom_share": "switching",
}
FEATURES = list(FAMILIES)


def plain_reason(name: str, value, row=None) -> str:
    """A stand-in for the dictionary's wording: the feature and its value."""
    return f"{name} = {float(value):.2f}"


def features_frame(n: int = 400, seed: int = 0, snapshot: str = "2025-01-01") -> pd.DataFrame:
    """One snapshot of features with a churn label driven by trend, complaints, visits and custom share."""
    rng = np.random.default_rng(seed)
    f = pd.DataFrame(
        {
            "orders_revenue_trend_3m": rng.normal(0, 0.3, n),
            "orders_lines_12m": rng.poisson(20, n).astype(float),
            "complaints_open": rng.poisson(0.5, n).astype(float),
            "complaints_oldest_open_days": rng.exponential(20, n),
            "competitor_discount_12m": rng.uniform(0, 0.2, n),
            "relationship_months_since_exec_visit": rng.exponential(8, n),
            "switching_custom_share": rng.beta(2, 3, n),
        }
    )
    logit = (
        -2.0
        - 4.0 * f["orders_revenue_trend_3m"]
        + 0.9 * f["complaints_open"]
        + 0.12 * f["relationship_months_since_exec_visit"]
        - 2.5 * f["switching_custom_share"]
    )
    churn = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(float)
    keys = pd.DataFrame(
        {
            "account_id": [f"A{i:04d}" for i in range(n)],
            "snapshot": pd.Timestamp(snapshot),
            "in_scope": True,
            "recently_lost": False,
            "labelled": False,
            "revenue_12m": rng.lognormal(12, 1, n),
            "usual_monthly_revenue": 0.0,
            "churn": churn,
            "switch": np.nan,
        }
    )
    keys["usual_monthly_revenue"] = keys["revenue_12m"] / 12
    return pd.concat([keys, f], axis=1)


def accounts_table(ids, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ids = list(ids)
    managers = ["Ana Ruiz", "Bo Chen", "C/D: Key [EU]*", "Dana Smith-Longname-For-Sheet-Limits-Test"]
    return pd.DataFrame(
        {
            "account_id": ids,
            "name": [f"Company {i}" for i in ids],
            "industry": rng.choice(["chemicals", "food", "metals"], len(ids)),
            "region": "north",
            "tier": rng.choice(["key", "major", "standard"], len(ids)),
            "account_manager": [managers[i % len(managers)] for i in range(len(ids))],
            "influence": rng.uniform(0, 1, len(ids)),
        }
    )


class TinyChurnModel:
    """A LightGBM booster with the scoring interface of `ChurnModel`."""

    def __init__(self, frame: pd.DataFrame, seed: int = 0):
        params = {"objective": "binary", "num_leaves": 7, "learning_rate": 0.1, "min_data_in_leaf": 10,
                  "verbose": -1, "seed": seed, "num_threads": 1, "deterministic": True}
        data = lgb.Dataset(frame[FEATURES], label=frame["churn"])
        self.booster = lgb.train(params, data, num_boost_round=40)
        self.features = FEATURES
        self.families = dict(FAMILIES)
        self.metrics = {"oot/auc": 0.81, "oot/brier": 0.09}

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        return self.booster.predict(frame[FEATURES])

    def contributions(self, frame: pd.DataFrame) -> pd.DataFrame:
        values = self.booster.predict(frame[FEATURES], pred_contrib=True)
        return pd.DataFrame(values, columns=[*FEATURES, "bias"], index=frame.index)


class FixedSwitchingModel:
    """Switching cost = 0.2 x (1 - custom share); probability rises with the discount."""

    def switching_cost(self, frame: pd.DataFrame) -> pd.Series:
        return pd.Series(0.2 * (1 - frame["switching_custom_share"].to_numpy()), index=frame.index)

    def switch_probability(self, frame: pd.DataFrame, discount) -> np.ndarray:
        cost = self.switching_cost(frame).to_numpy()
        return 1 / (1 + np.exp(-(np.asarray(discount, dtype=float) - cost) * 40))
