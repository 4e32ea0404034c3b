"""Churn and switch labels and scope on hand-computed cases (DESIGN.md, "Time and labels"),
and the property that labels only look at [t, t + H)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from churnml.config import FeaturesConfig, LabelsConfig
from churnml.features import build_features
from helpers.features_tables import monthly, perturb, random_tables, tables

H = 6


def at(world, t: str, **label_settings) -> pd.DataFrame:
    frame = build_features(world, FeaturesConfig(), LabelsConfig(**label_settings), snapshots=[t])
    return frame.set_index("account_id")


# 2021 at 1000 a month, then 2022 as given; every world runs to 2022-12 so t = 2022-01 is labelled.
def world(**accounts_2022: list[float]) -> dict[str, pd.DataFrame]:
    orders = []
    for account, months_2022 in accounts_2022.items():
        orders += monthly(account, "2021-01", [1000.0] * 12 + months_2022)
    orders += monthly("KEEP", "2021-01", [1000.0] * 24)  # keeps the data running to 2022-12
    names = [*accounts_2022, "KEEP"]
    return {"accounts": tables(accounts=[{"account_id": a} for a in names])["accounts"],
            "orders": tables(orders=orders)["orders"]}


def test_partial_defection_is_churn():
    # 85 % of the revenue gone: 6 x 150 = 900 <= 0.2 x 1000 x 6 = 1200
    w = world(DEFECT=[150.0] * 12, HALF=[300.0] * 12)
    frame = at(w, "2022-01-01")
    assert frame.at["DEFECT", "in_scope"] and frame.at["DEFECT", "labelled"]
    assert frame.at["DEFECT", "churn"] == 1.0
    assert frame.at["DEFECT", "usual_monthly_revenue"] == pytest.approx(1000.0)
    # 70 % gone keeps 1800 > 1200: not churn at the default share, churn at retained_share 0.35
    assert frame.at["HALF", "churn"] == 0.0
    assert at(w, "2022-01-01", retained_share=0.35).at["HALF", "churn"] == 1.0
    # the classic definition (retained_share 0): only buying nothing at all is churn
    assert at(w, "2022-01-01", retained_share=0.0).at["DEFECT", "churn"] == 0.0


def test_a_seasonal_dip_that_recovers_is_not_churn():
    w = world(SEASONAL=[0.0, 0.0] + [1000.0] * 10)
    for t in ("2022-01-01", "2022-02-01", "2022-03-01"):
        frame = at(w, t)
        assert frame.at["SEASONAL", "in_scope"], t
        assert frame.at["SEASONAL", "churn"] == 0.0, t


def test_stopping_altogether_is_churn_and_afterwards_out_of_scope():
    w = world(STOP=[0.0] * 12)
    assert at(w, "2022-01-01").at["STOP", "churn"] == 1.0
    # three quiet months: gone by the lost-window test, so not an easy positive, but win-back
    later = at(w, "2022-04-01")
    assert not later.at["STOP", "in_scope"] and later.at["STOP", "recently_lost"]
    assert np.isnan(later.at["STOP", "churn"])
    # with the lost-window test off it stays in scope until 12 months without a purchase
    assert at(w, "2022-04-01", lost_window_months=0).at["STOP", "in_scope"]
    assert not at(w, "2023-01-01", lost_window_months=0).loc["STOP", "in_scope"]


def test_a_loss_recorded_in_outcomes_is_churn_in_its_window_only():
    w = world(RECORDED=[1000.0] * 12)
    w["outcomes"] = tables(outcomes=[{"account_id": "RECORDED", "lost_at": "2022-03-10", "reason": "other"}])["outcomes"]
    assert at(w, "2022-01-01").at["RECORDED", "churn"] == 1.0  # 2022-03-10 in [2022-01, 2022-07)
    assert at(w, "2021-09-01").at["RECORDED", "churn"] == 0.0  # [2021-09, 2022-03): before the loss
    after = at(w, "2022-04-01")  # recorded before t: already gone, listed for win-back
    assert not after.at["RECORDED", "in_scope"] and after.at["RECORDED", "recently_lost"]
    assert np.isnan(after.at["RECORDED", "churn"])


@pytest.mark.parametrize(
    "kind, observed, switch",
    [
        ("trial_order", "2021-11-15", 1.0),  # in [t - 3 months, t + H)
        ("tender_lost", "2022-05-02", 1.0),
        ("trial_order", "2021-09-20", 0.0),  # more than 3 months before t
        ("quote", "2021-12-01", 0.0),  # a quote proves nothing
        ("trial_order", "2022-07-01", 0.0),  # after the window
    ],
)
def test_a_switch_needs_churn_and_evidence_in_the_window(kind, observed, switch):
    w = world(GONE=[0.0] * 12, STAYS=[1000.0] * 12)
    w["competitor_signals"] = tables(
        competitor_signals=[
            {"account_id": "GONE", "observed_at": observed, "kind": kind},
            {"account_id": "STAYS", "observed_at": observed, "kind": kind},
        ]
    )["competitor_signals"]
    frame = at(w, "2022-01-01")
    assert frame.at["GONE", "churn"] == 1.0
    assert frame.at["GONE", "switch"] == switch
    assert frame.at["STAYS", "switch"] == 0.0  # evidence without churn is no switch


def test_an_outcome_to_a_competitor_is_a_switch():
    w = world(TAKEN=[1000.0] * 12)
    w["outcomes"] = tables(outcomes=[{"account_id": "TAKEN", "lost_at": "2022-02-01", "reason": "competitor"}])["outcomes"]
    frame = at(w, "2022-01-01")
    assert frame.at["TAKEN", "churn"] == 1.0 and frame.at["TAKEN", "switch"] == 1.0


def test_an_account_with_no_orders_in_scope_has_no_label():
    w = world(OLD=[0.0] * 12)
    w["orders"] = w["orders"][~((w["orders"]["account_id"] == "OLD") & (w["orders"]["order_date"] >= "2021-03-01"))]
    w["accounts"] = tables(accounts=[{"account_id": "OLD"}, {"account_id": "KEEP"},
                                     {"account_id": "NEW", "since": "2021-06-01"}])["accounts"]
    frame = at(w, "2022-04-01")
    # OLD last bought in 2021-02, 14 months before t: out of scope, but bought within 24 months
    assert not frame.at["OLD", "in_scope"] and frame.at["OLD", "recently_lost"]
    # NEW is a customer on paper (since) but never ordered: a row, out of scope, no label
    assert not frame.at["NEW", "in_scope"] and not frame.at["NEW", "recently_lost"]
    assert frame.loc[["OLD", "NEW"], ["churn", "switch"]].isna().all().all()
    assert frame.at["NEW", "revenue_12m"] == 0.0


def test_snapshots_without_a_full_window_are_kept_unlabelled():
    w = world(A=[1000.0] * 12)
    frame = build_features(w, FeaturesConfig(), LabelsConfig())
    last_labelled = pd.Timestamp("2022-07-01")  # [2022-07, 2023-01) ends with the data
    assert frame.loc[frame["snapshot"] <= last_labelled, "labelled"].all()
    unlabelled = frame[frame["snapshot"] > last_labelled]
    assert len(unlabelled) and not unlabelled["labelled"].any()
    assert unlabelled[["churn", "switch"]].isna().all().all()
    assert unlabelled["snapshot"].max() == pd.Timestamp("2023-01-01")  # the scoring month


def test_a_too_young_account_is_in_scope_once_it_bought():
    w = world()
    w["accounts"] = tables(accounts=[{"account_id": "KEEP"}, {"account_id": "YOUNG"}])["accounts"]
    young = tables(orders=monthly("YOUNG", "2022-02", [500.0]))["orders"]
    w["orders"] = pd.concat([w["orders"], young], ignore_index=True)
    frame = at(w, "2022-04-01")
    assert frame.at["YOUNG", "in_scope"]
    assert frame.at["YOUNG", "usual_monthly_revenue"] == pytest.approx(250.0)  # 500 over 2 months


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), position=st.floats(0, 0.6), change_seed=st.integers(0, 10_000))
def test_labels_never_look_past_t_plus_h(seed, position, change_seed):
    world_ = random_tables(seed)
    dates = world_["orders"]["order_date"]
    months = pd.period_range(dates.min().to_period("M") + 6, dates.max().to_period("M"), freq="M")
    t = months[int(position * len(months))].to_timestamp()
    changed = perturb(world_, t + pd.DateOffset(months=H), change_seed)
    before, after = at(world_, t), at(changed, t)
    both = before["labelled"] & after["labelled"]
    pd.testing.assert_frame_equal(before.loc[both, ["churn", "switch"]], after.loc[both, ["churn", "switch"]])


def test_gone_follows_each_accounts_own_rhythm():
    """At 2022-09: a monthly buyer silent for 3 months is gone; a quarterly buyer 3 months after
    its last order is not (its window is 2 gaps, 6 months), nor after 5; silent for 7 it is; an
    account with one order day has no rhythm yet: today's 3-month window, silence counting."""
    orders = []
    orders += monthly("MONTHLY", "2021-01", [1000.0] * 17)  # last order 2022-05
    orders += monthly("QUARTERLY", "2021-01", [3000.0, 0, 0] * 6)  # every 3 months, last 2022-04
    orders += monthly("QUARTER_SILENT", "2021-01", [3000.0, 0, 0] * 5)  # last 2022-01
    orders += monthly("ONCE", "2022-07", [5000.0])  # one order day, 2022-07
    orders += monthly("KEEP", "2021-01", [1000.0] * 24)
    names = ["MONTHLY", "QUARTERLY", "QUARTER_SILENT", "ONCE", "KEEP"]
    w = {"accounts": tables(accounts=[{"account_id": a} for a in names])["accounts"],
         "orders": tables(orders=orders)["orders"]}
    frame = at(w, "2022-09-01")
    assert not frame.at["MONTHLY", "in_scope"] and frame.at["MONTHLY", "recently_lost"]
    assert frame.at["QUARTERLY", "in_scope"]
    assert not frame.at["QUARTER_SILENT", "in_scope"] and frame.at["QUARTER_SILENT", "recently_lost"]
    assert frame.at["ONCE", "in_scope"]
    assert not at(w, "2022-11-01").at["ONCE", "in_scope"]  # three months silent after its only order
    # A factor of 1 gap: the quarterly buyer five months after its last order is gone too.
    assert not at(w, "2022-09-01", rhythm_gaps=1.0).at["QUARTERLY", "in_scope"]
    # The rhythm never shortens the window below lost_window_months.
    assert at(w, "2022-07-01", rhythm_gaps=0.1).at["MONTHLY", "in_scope"]
