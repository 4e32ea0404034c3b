"""Actions that fit the account's state today, and reasons that are news about the account."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from churnml.features.dictionary import FEATURES
from churnml.scoring.actions import (
    competitor_offer,
    condition_of,
    delivery_problem,
    offer_words,
    open_complaint,
    recommend_action,
)
from churnml.scoring.reasons import condition_share, specific_only

PLAYBOOK = yaml.safe_load((Path(__file__).resolve().parents[1] / "conf" / "score" / "default.yaml").read_text())["playbook"]

# For each condition: account states where it holds and where it does not.
STATES = {
    open_complaint: ({"complaints_open": 2}, {"complaints_open": 0, "complaints_opened_12m": 3}),
    delivery_problem: (
        {"on_time_rate_change_3v12": -0.12},
        {"on_time_rate_change_3v12": 0.01, "on_time_rate_vs_region_3m": 0.0, "late_days_mean_12m": 0.3,
         "complaints_delivery_12m": 0},
    ),
    competitor_offer: ({"deepest_discount": 0.12}, {"deepest_discount": np.nan}),
}


@pytest.mark.parametrize("key", sorted(k for k in PLAYBOOK if k != "default"))
def test_each_playbook_action_is_given_only_when_its_condition_holds(key):
    condition = condition_of(key)
    feature = key if key in FEATURES else next((f for f in FEATURES if f.startswith(key)), f"{key}_x")
    family = FEATURES[feature].family if feature in FEATURES else key
    reasons = [(feature, family)]
    if condition is None:  # fits any state: the top reason decides
        assert recommend_action(reasons, PLAYBOOK, {}) == PLAYBOOK[key].format_map({"switching_cost": "", "offer": ""})
        return
    holds, fails = STATES[condition]
    assert condition(holds) and not condition(fails)
    given = recommend_action(reasons, PLAYBOOK, {"switching_cost": 0.18, **holds})
    assert given.split(":")[0] == PLAYBOOK[key].split(":")[0]
    assert recommend_action(reasons, PLAYBOOK, {"switching_cost": 0.18, **fails}) == PLAYBOOK["default"]


def test_no_price_action_where_no_discount_in_the_range_seen_moves_the_account():
    reasons = [("price_gap_deepest_12m", "competitor"), ("months_since_exec_visit", "relationship")]
    offered = {"deepest_discount": 0.12}
    assert recommend_action(reasons, PLAYBOOK, {**offered, "switching_cost": 0.05}).startswith("Price and value")
    assert recommend_action(reasons, PLAYBOOK, {**offered, "switching_cost": float("inf")}) == PLAYBOOK["relationship"]
    # No switching model: the margin is unknown, the offer alone decides.
    assert recommend_action(reasons, PLAYBOOK, offered).startswith("Price and value")


def test_the_complaint_action_needs_an_open_complaint_and_falls_to_the_next_reason():
    reasons = [("complaints_severe_12m", "complaints"), ("months_since_exec_visit", "relationship")]
    assert recommend_action(reasons, PLAYBOOK, {"complaints_open": 1}) == PLAYBOOK["complaints"]
    assert recommend_action(reasons, PLAYBOOK, {"complaints_open": 0}) == PLAYBOOK["relationship"]


def test_the_price_action_quotes_the_offer_and_the_margin_in_words():
    action = recommend_action([("price_gap_deepest_12m", "competitor")], PLAYBOOK,
                              {"deepest_discount": 0.12, "switching_cost": 0.18})
    assert "a competitor quoted 12.0 % below us; we can defend up to about 18.0 %" in action
    assert "above the largest discount seen" in offer_words(0.12, float("inf"))
    assert offer_words(0.12, np.nan) == "a competitor quoted 12.0 % below us"


def test_a_standing_fact_of_most_accounts_is_no_reason():
    n = 100
    never = np.r_[np.full(80, np.nan), np.arange(20.0)]  # 80 % never had joint development
    features = pd.DataFrame({"months_since_joint_development": never, "complaints_open": np.r_[np.zeros(90), np.ones(10)]})
    contribs = pd.DataFrame({"months_since_joint_development": np.full(n, 0.4), "complaints_open": np.full(n, 0.3)})
    kept = specific_only(contribs, features, 0.25)
    assert (kept.loc[:79, "months_since_joint_development"] == 0).all()  # the 80 % with none
    assert (kept.loc[90:, "complaints_open"] == 0.3).all()  # the 10 % with an open complaint
    assert (kept.loc[:89, "complaints_open"] == 0).all()


def test_condition_share_follows_the_direction_of_the_risk():
    values = pd.Series(np.arange(10.0))
    rising = condition_share(values, pd.Series(np.arange(10.0)))
    falling = condition_share(values, pd.Series(-np.arange(10.0)))
    assert rising[9] == pytest.approx(0.1) and rising[0] == pytest.approx(1.0)
    assert falling[0] == pytest.approx(0.1) and falling[9] == pytest.approx(1.0)


@pytest.mark.parametrize("seed", range(5))
def test_no_feature_is_the_reason_of_much_more_than_a_quarter_of_the_rows(seed):
    rng = np.random.default_rng(seed)
    n = 400
    features = pd.DataFrame({
        "a": rng.integers(0, 3, n).astype(float),
        "b": np.where(rng.random(n) < 0.6, np.nan, rng.normal(size=n)),
        "c": rng.normal(size=n),
    })
    contribs = pd.DataFrame({k: np.abs(rng.normal(size=n)) for k in features})
    kept = specific_only(contribs, features, 0.25)
    for name in features:
        share = (kept[name] > 0).mean()
        ties = features[name].value_counts(normalize=True, dropna=False).max()
        assert share <= 0.25 or share <= ties, (name, share)


def test_an_industrys_losses_are_a_reason_only_beside_the_accounts_own():
    from churnml.scoring.reasons import Reason, with_own_risk

    peers = Reason("peer_churn_rate_12m", "peers", 0.3, "12 % of its industry's accounts lost in the last 12 months")
    own = Reason("complaints_open", "complaints", 0.2, "2 complaints open")
    assert with_own_risk([peers]) == []
    assert with_own_risk([peers, own]) == [peers, own]
