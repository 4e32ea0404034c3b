"""Point in time: nothing dated on or after a snapshot t can change a feature at t."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from churnml.config import FeaturesConfig, LabelsConfig
from churnml.data.contract import as_seen_at
from churnml.features import build_features
from churnml.features.dictionary import LABELS
from helpers.features_tables import perturb, random_tables

# What may legitimately differ at t: the labels look at [t, t + H), and whether that window is
# inside the data depends on the latest rows.
AFTER_T = [*LABELS, "labelled"]


def _at(tables, t, fcfg=None, lcfg=None) -> pd.DataFrame:
    frame = build_features(tables, fcfg or FeaturesConfig(), lcfg or LabelsConfig(), snapshots=[t])
    return frame.drop(columns=AFTER_T)


def _snapshot(tables: dict[str, pd.DataFrame], position: float) -> pd.Timestamp:
    dates = tables["orders"]["order_date"]
    first = dates.min().to_period("M") + 1
    last = dates.max().to_period("M") + 2
    months = pd.period_range(first, last, freq="M")
    return months[min(int(position * len(months)), len(months) - 1)].to_timestamp()


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    # A feature column exists when its source column has any value; rows after t can hold the
    # only values, so compare the columns both frames have (and never lose the core ones).
    common = [c for c in a.columns if c in b.columns]
    assert {"revenue_12m", "in_scope", "recently_lost", "complaints_open"} <= set(common)
    pd.testing.assert_frame_equal(a[common], b[common], check_exact=True)


@settings(max_examples=35, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    position=st.floats(0, 1),
    change_seed=st.integers(0, 10_000),
    lost_window=st.sampled_from([0, 3]),
)
def test_rows_on_or_after_t_never_change_features_at_t(seed, position, change_seed, lost_window):
    tables = random_tables(seed)
    t = _snapshot(tables, position)
    lcfg = LabelsConfig(lost_window_months=lost_window)
    before = _at(tables, t, lcfg=lcfg)
    assert len(before) > 0
    _same(before, _at(perturb(tables, t, change_seed), t, lcfg=lcfg))


@settings(max_examples=25, deadline=None)
@example(seed=1472, position=0.0)  # at the first snapshot no account with an industry exists yet
@given(seed=st.integers(0, 10_000), position=st.floats(0, 1))
def test_features_at_t_equal_those_built_from_the_tables_as_seen_at_t(seed, position):
    tables = random_tables(seed)
    t = _snapshot(tables, position)
    _same(_at(tables, t), _at(as_seen_at(tables, t), t))


def test_perturbation_really_changes_the_future():
    # the property above is only worth something if the perturbed tables differ after t
    tables = random_tables(3)
    t = _snapshot(tables, 0.5)
    changed = perturb(tables, t, 1)
    later = build_features(changed, FeaturesConfig(), LabelsConfig(), snapshots=[t + pd.DateOffset(months=4)])
    same_time = build_features(tables, FeaturesConfig(), LabelsConfig(), snapshots=[t + pd.DateOffset(months=4)])
    assert not later["revenue_3m"].equals(same_time["revenue_3m"])
    for name in ("orders", "complaints", "contacts"):
        assert not changed[name].equals(tables[name])


@pytest.mark.parametrize("table", ["complaints", "contacts"])
def test_state_at_t_uses_what_was_known_at_t(table):
    """A complaint resolved on t is still open at t; a contact leaving on t is still there."""
    tables = random_tables(5)
    t = pd.Timestamp("2021-03-01")
    rows = tables[table].iloc[:1].copy()
    if table == "complaints":
        rows["opened_at"], rows["resolved_at"] = pd.Timestamp("2021-01-10"), t
        column, ends = "complaints_open", "resolved_at"
    else:
        rows["start_date"], rows["end_date"], rows["role"] = pd.Timestamp("2020-01-10"), t, "buyer"
        column, ends = "contacts_current", "end_date"
    rows["account_id"] = tables["orders"]["account_id"].iloc[0]
    base = tables[table].iloc[:0]
    with_row = {**tables, table: pd.concat([base, rows], ignore_index=True)}
    gone_earlier = {**with_row, table: rows.assign(**{ends: t - pd.Timedelta(days=1)})}
    acc = rows["account_id"].iloc[0]
    at_t = build_features(with_row, FeaturesConfig(), LabelsConfig(), snapshots=[t]).set_index("account_id")
    closed = build_features(gone_earlier, FeaturesConfig(), LabelsConfig(), snapshots=[t]).set_index("account_id")
    assert at_t.at[acc, column] == 1.0
    assert closed.at[acc, column] == 0.0
