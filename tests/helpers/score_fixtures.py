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


def ranked_band_first(rl: pd.DataFrame) -> bool:
    """Whether a list in rank order puts every account with a notable risk (a band other than
    'low') before the low band, each group by decreasing priority."""
    quiet = rl["risk_band"].eq("low").to_numpy()
    first, rest = rl[~quiet], rl[quiet]
    return (
        bool((~quiet[: len(first)]).all())
        and first["priority"].is_monotonic_decreasing
        and rest["priority"].is_monotonic_decreasing
    )


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


PLAYBOOK = {
    "complaints": "Resolve open complaints",
    "relationship": "Executive visit",
    "competitor": "Price review within {switching_cost}",
    "switching": "Deepen structural bonds",
    "orders": "Capacity and delivery review",
    "default": "Account review",
}


def sample_report(n: int = 120, previous: bool = True, switching: bool = True, **kw):
    """A ReportData for two consecutive months of a small book (the second month's list)."""
    from churnml.config import ScoreConfig
    from churnml.report.build import build_report
    from churnml.scoring.changes import apply_changes, compare_lists
    from churnml.scoring.risk_list import score_accounts

    cfg = ScoreConfig(playbook=dict(PLAYBOOK))
    m1 = features_frame(n, seed=3, snapshot="2025-01-01")
    m2 = features_frame(n, seed=4, snapshot="2025-02-01")
    m2.loc[m2.index[:3], "in_scope"] = False
    m2.loc[m2.index[:3], "recently_lost"] = True
    model = TinyChurnModel(features_frame(400, seed=1))
    accounts = accounts_table(m1["account_id"])
    accounts.loc[7, "name"] = "<b>Evil & Co</b>"
    accounts.loc[9, "account_manager"] = None
    sw = FixedSwitchingModel() if switching else None
    l1 = score_accounts(m1, model, sw, accounts, cfg, format_reason=plain_reason)
    l2 = score_accounts(m2, model, sw, accounts, cfg, format_reason=plain_reason)
    changes = compare_lists(l2, l1 if previous else None)
    l2 = apply_changes(l2, changes)
    changes.left["status"] = "recently lost (win-back)"
    win_back = pd.DataFrame(
        {"account_id": m2["account_id"].iloc[:3], "name": "Gone Ltd", "account_manager": "Ana Ruiz",
         "industry": "food", "tier": "key", "last_order_month": "2024-10", "revenue_12m": [1e5, 2e5, 3e5]}
    )
    report = build_report(
        l2, changes, win_back, cfg, as_of="2025-02",
        model={"name": "churnml-churn", "version": "3", "uri": "models:/churnml-churn@champion",
               "metrics": model.metrics},
        psi={"orders_lines_12m": 0.41, "complaints_open": 0.02},
        notes=[] if switching else ["No switching-cost model: switch probability and switching cost are empty."],
        switching_available=switching, **kw,
    )
    return report
