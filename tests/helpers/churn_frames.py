"""Small random frames shaped like the features frame, for the model tests.

Columns follow docs/internals.md: keys, flags, `revenue_12m`, labels, numeric features as
float64 and one categorical (`industry`). Churn depends on real signal (a revenue decline, open
complaints, the industry), so a model can learn it; offers carry a discount and each account a
true switching cost that grows with its share of custom products.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

INDUSTRIES = ["chemicals", "food", "metals", "paper"]
FEATURES = [
    "revenue_3m",
    "revenue_6m",
    "revenue_12m",
    "months_since_last_order",
    "lines_12m",
    "complaints_open",
    "custom_revenue_share_12m",
    "noise",
    "industry",
]


def feature_frame(
    n_accounts: int = 300, n_snapshots: int = 30, horizon: int = 6, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    """(features frame, offers `account_id, snapshot, offer_discount`, true switching cost by account)."""
    rng = np.random.default_rng(seed)
    snapshots = pd.date_range("2021-07-01", periods=n_snapshots, freq="MS")
    ids = np.array([f"A{i:04d}" for i in range(n_accounts)])
    size = rng.lognormal(11, 0.8, n_accounts)
    industry = rng.choice(INDUSTRIES, n_accounts)
    custom = rng.beta(2, 3, n_accounts)
    true_cost = pd.Series(0.02 + 0.3 * custom, index=ids, name="switching_cost")
    acc = np.repeat(np.arange(n_accounts), n_snapshots)
    snap = np.tile(np.arange(n_snapshots), n_accounts)
    n = len(acc)
    decline = rng.beta(2, 5, n) * (1 + (rng.random(n) < 0.15) * 2)
    rev12 = size[acc] * rng.lognormal(0, 0.1, n)
    rev6 = rev12 / 2 * (1 - decline / 3)
    rev3 = rev6 / 2 * (1 - decline).clip(0.05)
    complaints = rng.poisson(0.3 + 0.7 * (industry[acc] == "metals"), n).astype(float)
    recency = rng.exponential(1 + 3 * decline)
    logit = -3.2 + 3.0 * decline + 0.6 * complaints + 0.7 * (industry[acc] == "food") - 1.0 * custom[acc]
    churn = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(float)
    switch = churn * (rng.random(n) < 0.5)
    frame = pd.DataFrame(
        {
            "account_id": ids[acc],
            "snapshot": snapshots[snap],
            "in_scope": rng.random(n) > 0.05,
            "recently_lost": False,
            "labelled": snap + horizon <= n_snapshots - 1,
            "revenue_12m": rev12,
            "usual_monthly_revenue": rev12 / 12,
            "churn": churn,
            "switch": switch.astype(float),
            "revenue_3m": rev3,
            "revenue_6m": rev6,
            "months_since_last_order": recency,
            "lines_12m": rng.poisson(20 + rev12 / 20000, n).astype(float),
            "complaints_open": complaints,
            "custom_revenue_share_12m": custom[acc],
            "noise": rng.normal(size=n),
            "industry": pd.Categorical(industry[acc], categories=INDUSTRIES),
        }
    )
    # Offers: a fifth of account-months; the account switches when the discount beats its cost.
    has_offer = rng.random(n) < 0.2
    discount = rng.uniform(0.0, 0.25, n)
    switched = discount + rng.normal(0, 0.02, n) > true_cost.to_numpy()[acc]
    frame.loc[has_offer, "switch"] = switched[has_offer].astype(float)
    frame.loc[has_offer & switched, "churn"] = 1.0
    offers = pd.DataFrame(
        {
            "account_id": frame.loc[has_offer, "account_id"].to_numpy(),
            "snapshot": frame.loc[has_offer, "snapshot"].to_numpy(),
            "offer_discount": discount[has_offer],
        }
    )
    hidden = ~(frame["labelled"] & frame["in_scope"])
    frame.loc[hidden, ["churn", "switch"]] = np.nan
    return frame, offers, true_cost
