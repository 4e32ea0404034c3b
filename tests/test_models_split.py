"""The time-ordered split: no leakage into the held-out period, sensible shrinking."""

from __future__ import annotations

import logging

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from churnml.config import SplitConfig
from churnml.errors import ConfigError
from churnml.models.split import backtest_splits, plan_split, split_before


def months(n: int, start: str = "2021-07-01") -> list[pd.Timestamp]:
    return list(pd.date_range(start, periods=n, freq="MS"))


def assert_no_leakage(split) -> None:
    first_test = min(split.test)
    for s in split.fit_snapshots:
        # The label window [s, s + H) must end at or before the first held-out snapshot.
        assert s + pd.DateOffset(months=split.horizon) <= first_test
    slices = [split.train, split.inner_gap, split.valid, split.calib, split.gap, split.test]
    seen = [s for part in slices for s in part]
    assert seen == sorted(seen), "slices are in time order and do not overlap"


def test_default_split_of_three_years():
    split = plan_split(months(37), 6, SplitConfig())
    assert len(split.test) == 3 and len(split.calib) == 2 and len(split.valid) == 2
    assert len(split.gap) == 5 and len(split.inner_gap) == 5
    assert len(split.train) == 37 - 3 - 5 - 2 - 2 - 5
    assert_no_leakage(split)
    # No churn event on both sides of early stopping: train label windows end before validation.
    assert all(s + pd.DateOffset(months=6) <= split.valid[0] for s in split.train)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 40), horizon=st.integers(1, 12), test=st.integers(1, 4), calib=st.integers(1, 3))
def test_no_fitting_snapshot_sees_the_held_out_period(n, horizon, test, calib):
    cfg = SplitConfig(test_snapshots=test, calib_snapshots=calib, valid_snapshots=2, min_train_snapshots=3)
    try:
        split = plan_split(months(n), horizon, cfg)
    except ConfigError as err:
        assert n < horizon + 3, "only impossible splits may fail"
        assert "labels.horizon_months" in str(err)
        return
    assert_no_leakage(split)
    assert all(len(part) >= 1 for part in (split.train, split.valid, split.calib, split.test))


def test_short_extract_shrinks_and_says_so(caplog):
    # 13 labelled snapshots (two years of data, H = 6): the configured 3+5+2+2+5+3 = 20 does not fit.
    with caplog.at_level(logging.WARNING, logger="churnml.models.split"):
        split = plan_split(months(13), 6, SplitConfig())
    assert len(split.test) < 3
    assert "shrank" in caplog.text
    assert_no_leakage(split)


def test_impossible_split_names_what_is_needed():
    with pytest.raises(ConfigError, match="at least 9 are needed"):
        plan_split(months(8), 6, SplitConfig())


def test_gap_with_missing_months_uses_dates_not_positions():
    snaps = months(30)
    del snaps[20:23]  # three months missing in the extract
    split = plan_split(snaps, 6, SplitConfig())
    assert_no_leakage(split)


def test_backtest_origins_are_the_last_labelled_snapshots_and_do_not_leak():
    snaps = months(30)
    splits = backtest_splits(snaps, 6, SplitConfig(), folds=4)
    assert [s.test[0] for s in splits] == snaps[-4:]
    for split in splits:
        assert len(split.test) == 1
        assert_no_leakage(split)


def test_split_before_raises_when_nothing_fits():
    with pytest.raises(ConfigError, match="backtest_folds"):
        split_before(months(7), [months(7)[-1]], 6, SplitConfig())
