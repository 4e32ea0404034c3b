"""The helpers behind the notebooks (churnml.explore, churnml.review, churnml.plots), on the small synthetic world."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churnml import explore, review
from churnml.config import FeaturesConfig, LabelsConfig
from churnml.evaluate import METRIC_NAMES, flatten


@pytest.fixture(scope="module")
def world_frame(small_world):
    from churnml.features import build_features

    labels = LabelsConfig()
    return small_world.tables, build_features(small_world.tables, FeaturesConfig(), labels), labels


def test_revenue_after_matches_a_naive_sum(world_frame):
    tables, frame, _ = world_frame
    orders = tables["orders"]
    sample = frame.sample(40, random_state=1)
    fast = explore.revenue_after(sample, orders, 6)
    for i, row in sample.iterrows():
        end = row["snapshot"] + pd.DateOffset(months=6)
        mine = orders[(orders["account_id"] == row["account_id"]) & (orders["order_date"] >= row["snapshot"])
                      & (orders["order_date"] < end)]
        assert fast[i] == pytest.approx(mine["net_amount"].sum(), abs=1e-6)


def test_monthly_revenue_keeps_every_month_and_the_total(world_frame):
    tables, _, _ = world_frame
    orders = tables["orders"]
    monthly = explore.monthly_revenue(orders, ["A00001", "no-such-account"])
    assert list(monthly.columns) == ["A00001", "no-such-account"]
    assert (monthly.index == pd.date_range(monthly.index[0], periods=len(monthly), freq="MS")).all()
    assert monthly["A00001"].sum() == pytest.approx(orders.loc[orders["account_id"] == "A00001", "net_amount"].sum())
    assert (monthly["no-such-account"] == 0).all()


def test_label_evidence_explains_every_label(world_frame):
    tables, frame, labels = world_frame
    evidence = explore.label_evidence(frame, tables, labels)
    known = evidence[evidence["churn"].notna()]
    assert len(known) > 1000 and known["churn"].nunique() == 2
    # Both routes to churn occur, and together they are the label exactly.
    assert known["below_threshold"].any() and (known["loss_recorded"] & ~known["below_threshold"]).any()
    explained = (known["below_threshold"] | known["loss_recorded"]).astype(float)
    assert (explained == known["churn"]).all()


def test_label_examples_show_their_case(world_frame):
    tables, frame, labels = world_frame
    evidence = explore.label_evidence(frame, tables, labels)
    picks = explore.label_examples(evidence)
    assert set(picks) == {"stopped", "partial", "recorded", "retained"}
    for case, (account, snapshot) in picks.items():
        row = evidence[(evidence["account_id"] == account) & (evidence["snapshot"] == snapshot)].iloc[0]
        if case == "retained":
            assert row["churn"] == 0
            continue
        assert row["churn"] == 1
        if case == "stopped":
            assert row["revenue_next"] <= 0.05 * row["threshold"]
        elif case == "partial":
            assert row["below_threshold"] and row["revenue_next"] > 0.3 * row["threshold"]
        else:
            assert row["loss_recorded"] and not row["below_threshold"]
    walk = explore.label_walkthrough(frame, tables, picks["partial"][0], labels)
    assert walk["snapshot"].is_monotonic_increasing and walk["snapshot"].is_unique


def test_churn_rates_add_up_and_bound_the_rate(world_frame):
    _, frame, _ = world_frame
    rows = frame[frame["labelled"] & frame["in_scope"] & frame["churn"].notna()]
    by_tier = explore.churn_rates(rows, "tier")
    assert by_tier["rows"].sum() == len(rows)
    assert by_tier["churned"].sum() == rows["churn"].sum()
    assert ((by_tier["low"] <= by_tier["rate"]) & (by_tier["rate"] <= by_tier["high"])).all()
    assert list(by_tier.index) == [c for c in rows["tier"].cat.categories if c in set(rows["tier"].astype(str))]

    visits = explore.churn_rates(rows, "months_since_exec_visit", bins=[0, 6, 1e9], names=["< 6", "6+"], missing="never")
    assert list(visits.index) == ["< 6", "6+", "never"]
    assert visits.loc["never", "rows"] == rows["months_since_exec_visit"].isna().sum()
    with pytest.raises(KeyError, match="no_such_column"):
        explore.churn_rates(rows, "no_such_column")


def test_wilson_interval_covers_known_cases():
    low, high = explore.wilson_interval([0, 5, 10], [10, 10, 10])
    assert low[0] == pytest.approx(0.0, abs=1e-12) and 0 < high[0] < 0.35
    assert low[1] < 0.5 < high[1] and high[1] - 0.5 == pytest.approx(0.5 - low[1])
    assert high[2] == pytest.approx(1.0) and low[2] > 0.65


def test_metrics_table_inverts_flatten():
    rng = np.random.default_rng(0)
    scorers = ["model", "baseline_rule", "baseline_rfm", "oracle"]
    metrics = {s: {m: float(rng.random()) for m in METRIC_NAMES} for s in scorers}
    flat = flatten(metrics, prefix="oot/")
    flat["oot/auc_margin"] = 0.1  # not a per-scorer metric: left out
    table = review.metrics_table(flat)
    assert list(table.columns) == ["model", "baseline_rfm", "baseline_rule", "oracle"]
    assert list(table.index) == list(METRIC_NAMES)
    for s in scorers:
        for m in METRIC_NAMES:
            assert table.loc[m, s] == metrics[s][m]


def test_account_events_are_dated_sorted_and_by_role_only(world_frame):
    tables, _, _ = world_frame
    counts = tables["complaints"]["account_id"].value_counts()
    account = counts.index[0]
    events = explore.account_events(tables, account)
    assert list(events.columns) == ["date", "source", "event"]
    assert events["date"].is_monotonic_increasing
    assert (events["source"] == "complaint").sum() == counts.iloc[0]
    left = tables["contacts"].loc[(tables["contacts"]["account_id"] == account) & tables["contacts"]["end_date"].notna()]
    assert (events["source"] == "contacts").sum() == len(left)
    only_visits = explore.account_events(tables, account, kinds=["exec_visit"])
    assert set(only_visits.loc[only_visits["source"] == "relationship", "event"]) <= {"exec visit"}
