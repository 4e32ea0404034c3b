"""Panel equals naive: the panel-based frame equals a slow per-snapshot computation (every
feature, flag and label), plus the shape of the frame and the feature dictionary."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from churnml.config import FeaturesConfig, LabelsConfig
from churnml.errors import ConfigError
from churnml.features import FEATURES, build_features, data_end, feature_columns, format_reason
from churnml.features.build import FEATURE_DTYPE, FRONT
from churnml.features.dictionary import FAMILIES, FLAGS, KEYS, LABELS
from helpers.features_naive import naive_features
from helpers.features_tables import random_tables, tables


def assert_same_as_naive(fast: pd.DataFrame, slow: pd.DataFrame) -> None:
    assert list(fast.columns) == list(slow.columns) or set(fast.columns) == set(slow.columns)
    assert len(fast) == len(slow)
    for column in fast.columns:
        a, b = fast[column], slow[column]
        if column == "snapshot":
            assert (a.to_numpy() == pd.to_datetime(b).to_numpy()).all()
        elif a.dtype == "category" or column == "account_id":
            as_list = lambda s: [None if pd.isna(v) else str(v) for v in s]  # noqa: E731
            assert as_list(a) == as_list(b), column
        else:
            x, y = a.astype(float).to_numpy(), b.astype(float).to_numpy()
            # to the precision the column holds (float32 features: about 7 digits)
            tolerance = np.finfo(a.dtype).eps if a.dtype.kind == "f" and a.dtype.itemsize < 8 else 1e-9
            bad = ~np.isclose(x, y, rtol=tolerance, atol=1e-9, equal_nan=True)
            where = fast.loc[bad, ["account_id", "snapshot"]].head(3).to_dict("records")
            assert not bad.any(), f"{column}: {bad.sum()} rows differ, e.g. {where}: {x[bad][:3]} vs {y[bad][:3]}"


@pytest.mark.parametrize("seed", [0, 5])
def test_panel_features_equal_the_naive_computation(seed):
    world = random_tables(seed, n_accounts=4, months=24)
    fcfg, lcfg = FeaturesConfig(), LabelsConfig()
    fast = build_features(world, fcfg, lcfg)
    slow = naive_features(world, fcfg, lcfg, list(pd.DatetimeIndex(fast["snapshot"].unique())))
    assert fast["in_scope"].any() and fast["churn"].notna().any()
    assert_same_as_naive(fast, slow[fast.columns])


def test_orders_only_features_equal_the_naive_computation():
    world = random_tables(2, n_accounts=5, months=20)
    world = {name: world[name] for name in ("accounts", "orders")}
    fcfg, lcfg = FeaturesConfig(), LabelsConfig()
    fast = build_features(world, fcfg, lcfg)
    # Losses show in the orders: the peer churn rate exists; switches need outcomes.
    assert "peer_churn_rate_12m" in fast and "peer_switch_rate_12m" not in fast
    slow = naive_features(world, fcfg, lcfg, list(pd.DatetimeIndex(fast["snapshot"].unique())))
    assert_same_as_naive(fast, slow[fast.columns])


@pytest.mark.slow
@settings(max_examples=12, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    horizon=st.sampled_from([3, 6]),
    share=st.sampled_from([0.0, 0.2, 0.5]),
    lost_window=st.sampled_from([0, 3, 5]),
    scope=st.sampled_from([6, 12]),
)
def test_panel_equals_naive_under_other_label_settings(seed, horizon, share, lost_window, scope):
    world = random_tables(seed, n_accounts=5, months=26)
    fcfg = FeaturesConfig()
    lcfg = LabelsConfig(horizon_months=horizon, retained_share=share, lost_window_months=lost_window,
                        scope_months=scope)
    fast = build_features(world, fcfg, lcfg)
    slow = naive_features(world, fcfg, lcfg, list(pd.DatetimeIndex(fast["snapshot"].unique())))
    assert_same_as_naive(fast, slow[fast.columns])


def test_frame_layout_and_dictionary():
    world = random_tables(1)
    frame = build_features(world, FeaturesConfig(), LabelsConfig())
    assert list(frame.columns[:5]) == [*KEYS, *FLAGS]
    assert not frame.duplicated(KEYS).any()
    assert frame["account_id"].dtype == "str"
    assert frame["snapshot"].dtype == "datetime64[ns]"
    assert (frame["snapshot"].dt.day == 1).all()
    assert frame[FLAGS].dtypes.eq(bool).all()
    features = feature_columns(frame)
    assert not set(features) & {*KEYS, *FLAGS, *LABELS}
    for name in features:
        entry = FEATURES[name]  # every column has an entry
        assert entry.description.strip() and entry.reason.strip() and entry.family in FAMILIES
        numeric = np.float64 if name in FRONT else FEATURE_DTYPE  # revenue stays float64: it is money
        assert frame[name].dtype == ("category" if entry.kind == "categorical" else numeric), name
    assert {FEATURES[n].family for n in features} == set(FAMILIES)
    # labels only where in scope and labelled; 1/0 otherwise
    labelled = frame["in_scope"] & frame["labelled"]
    assert frame.loc[~labelled, LABELS].isna().all().all()
    assert frame.loc[labelled, "churn"].isin([0.0, 1.0]).all()
    assert (frame.loc[labelled, "switch"] <= frame.loc[labelled, "churn"]).all()
    # the last snapshot is the scoring month, after the latest order
    assert frame["snapshot"].max() == data_end(world)
    assert not frame.loc[frame["snapshot"] == data_end(world), "labelled"].any()


def test_only_accounts_and_orders_give_the_orders_account_and_peer_families():
    world = random_tables(2)
    minimal = {"accounts": world["accounts"], "orders": world["orders"]}
    frame = build_features(minimal, FeaturesConfig(), LabelsConfig())
    # Peers: losses among the industry show in the orders alone.
    assert {FEATURES[n].family for n in feature_columns(frame)} == {"orders", "account", "peers"}
    assert frame["churn"].notna().any()
    # and orders_only switches the other families off even when their tables are there
    narrow = build_features(world, FeaturesConfig(families=["orders", "account"]), LabelsConfig())
    peers = {n for n in feature_columns(frame) if FEATURES[n].family == "peers"}
    assert set(feature_columns(narrow)) == set(feature_columns(frame)) - peers


def test_a_missing_optional_column_gives_no_feature():
    world = random_tables(2)
    world["orders"]["list_amount"] = np.nan
    world["accounts"]["category_spend"] = np.nan
    frame = build_features(world, FeaturesConfig(), LabelsConfig())
    assert "discount_depth_12m" not in frame and "share_of_wallet" not in frame
    assert "category_spend" not in frame and "revenue_12m" in frame


def test_one_snapshot_equals_the_same_rows_of_all_snapshots():
    world = random_tables(1)
    every = build_features(world, FeaturesConfig(), LabelsConfig())
    t = every["snapshot"].iloc[len(every) // 2]
    one = build_features(world, FeaturesConfig(), LabelsConfig(), snapshots=[t])
    pd.testing.assert_frame_equal(one, every[every["snapshot"] == t].reset_index(drop=True))


def test_zero_where_zero_is_the_truth_missing_where_unknown():
    world = tables(
        accounts=[{"account_id": "A"}, {"account_id": "B"}],
        orders=[
            {"account_id": "A", "order_date": "2022-01-15", "net_amount": 100.0},
            {"account_id": "B", "order_date": "2022-03-15", "net_amount": 50.0},
        ],
        complaints=[{"account_id": "B", "opened_at": "2022-02-01"}],
        interactions=[{"account_id": "B", "occurred_at": "2022-02-01", "kind": "exec_visit"}],
    )
    frame = build_features(world, FeaturesConfig(), LabelsConfig(), snapshots=["2022-06-01"])
    a = frame.set_index("account_id").loc["A"]
    assert a["complaints_opened_12m"] == 0 and a["complaints_open"] == 0  # none opened: truly 0
    assert np.isnan(a["complaint_oldest_open_days"])  # no open complaint has no age
    assert np.isnan(a["months_since_exec_visit"])  # never visited: unknown, not 0 months
    assert np.isnan(a["revenue_trend_3v3"])  # nothing in the previous quarter to compare with


def test_bad_settings_name_the_parameter():
    world = random_tables(1)
    with pytest.raises(ConfigError, match="features.families"):
        build_features(world, FeaturesConfig(families=["orders", "astrology"]), LabelsConfig())
    with pytest.raises(ConfigError, match="orders"):
        build_features(world, FeaturesConfig(families=["account"]), LabelsConfig())
    with pytest.raises(ConfigError, match="labels.retained_share"):
        build_features(world, FeaturesConfig(), LabelsConfig(retained_share=1.5))
    with pytest.raises(ConfigError, match="first days of months"):
        build_features(world, FeaturesConfig(), LabelsConfig(), snapshots=["2021-03-15"])


def test_data_end_is_the_month_after_the_latest_order():
    world = tables(
        accounts=[{"account_id": "A"}],
        orders=[{"account_id": "A", "order_date": "2024-12-28", "net_amount": 1.0}],
    )
    assert data_end(world) == pd.Timestamp("2025-01-01")


@pytest.mark.parametrize(
    "name, value, row, expected",
    [
        ("revenue_trend_3v3", -0.46, None, "orders down 46 % against the previous quarter"),
        ("revenue_trend_3v3", 0.05, None, "orders up 5 % against the previous quarter"),
        ("complaints_open", 2.0, {"complaint_oldest_open_days": 38.0}, "2 complaints open, the oldest 38 days"),
        ("complaints_open", 1.0, None, "1 complaint open"),
        ("price_gap_latest_12m", -0.12, None, "competitor quoted 12 % below our price"),
        ("months_since_exec_visit", 14.2, None, "last executive visit 14 months ago"),
        ("months_since_exec_visit", np.nan, None, "no executive visit on record"),
        ("months_since_decision_maker_left", 2.0, None, "a decision maker left 2 months ago"),
        ("industry", "metals", None, "industry metals"),
    ],
)
def test_format_reason(name, value, row, expected):
    assert format_reason(name, value, row) == expected


def test_every_reason_renders_for_both_signs_and_missing():
    row = {name: 3.0 for name, f in FEATURES.items() if f.kind == "numeric"}
    for name, feature in FEATURES.items():
        values = ["x"] if feature.kind == "categorical" else [-0.5, 0.0, 1.0, 12.0]
        for value in [*values, np.nan]:
            text = format_reason(name, value, row)
            assert text and "{" not in text and "[" not in text, (name, value, text)
