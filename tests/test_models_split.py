"""The evaluation plan: out-of-time where the extract allows it, an account-disjoint holdout
otherwise; no leakage into what is held out; inner folds that respect the label gap."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from churnml.config import SplitConfig
from churnml.errors import ConfigError
from churnml.models.split import (
    HOLDOUT,
    OOT,
    backtest_plans,
    in_holdout,
    inner_folds,
    oot_needs,
    plan_evaluation,
)


def months(n: int, start: str = "2021-07-01") -> list[pd.Timestamp]:
    return list(pd.date_range(start, periods=n, freq="MS"))


def grid(snaps, n_accounts: int = 200) -> pd.DataFrame:
    """One row per account and snapshot."""
    ids = [f"A{i:04d}" for i in range(n_accounts)]
    return pd.DataFrame([(a, s) for s in snaps for a in ids], columns=["account_id", "snapshot"])


def assert_no_leakage(plan) -> None:
    if plan.kind == OOT:
        for s in plan.fit:
            # The label window [s, s + H) must end at or before the first held-out snapshot.
            assert s + pd.DateOffset(months=plan.horizon) <= min(plan.test)
        seen = [*plan.fit, *plan.gap, *plan.test]
        assert seen == sorted(seen), "fit, gap and test are in time order and do not overlap"
    else:
        rows = grid([*plan.fit, *plan.test])
        fit, test = plan.fit_mask(rows), plan.test_mask(rows)
        assert not set(rows.loc[fit, "account_id"]) & set(rows.loc[test, "account_id"])


def test_long_extract_gets_the_out_of_time_test_on_three_snapshots():
    plan = plan_evaluation(months(37), 6, SplitConfig(), seed=42)
    assert plan.kind == OOT and len(plan.test) == 3 and len(plan.gap) == 5
    assert len(plan.fit) == 37 - 3 - 5, "every snapshot whose label window ends before the test is fitted on"
    assert_no_leakage(plan)
    assert "out-of-time" in plan.describe()


def test_plan_switches_to_the_holdout_exactly_at_the_documented_boundary():
    cfg = SplitConfig()
    need = oot_needs(6, cfg)
    assert need == 12  # 1 to test, 5 while its label window runs, 6 to fit on
    at = plan_evaluation(months(need), 6, cfg, seed=0)
    below = plan_evaluation(months(need - 1), 6, cfg, seed=0)
    assert at.kind == OOT and len(at.test) == 1 and len(at.fit) == cfg.min_fit_snapshots
    assert below.kind == HOLDOUT
    assert f"needs at least {need}" in below.reason and "11 labelled snapshots" in below.reason
    assert "out-of-time" not in below.name


def test_twelve_month_extract_is_a_holdout_that_uses_every_labelled_snapshot():
    # 12 months of orders, first snapshot one month in, H = 6: six labelled snapshots.
    plan = plan_evaluation(months(6), 6, SplitConfig(), seed=42)
    assert plan.kind == HOLDOUT
    assert plan.fit == tuple(months(6)) and plan.test == tuple(months(6)[-3:])
    rows = grid(months(6), 1000)
    held = plan.test_mask(rows)
    assert 0.25 < rows.loc[held, "account_id"].nunique() / 1000 < 0.35
    assert_no_leakage(plan)


def test_holdout_accounts_depend_only_on_id_and_seed():
    ids = pd.Series([f"C{i}" for i in range(500)])
    first = in_holdout(ids, 0.3, 7)
    # Another extract with other accounts around them: the same ids stay on the same side.
    more = pd.concat([ids, pd.Series([f"D{i}" for i in range(300)])], ignore_index=True)
    np.testing.assert_array_equal(in_holdout(more, 0.3, 7)[:500], first)
    assert (in_holdout(ids, 0.3, 8) != first).any()


@settings(max_examples=80, deadline=None)
@given(n=st.integers(1, 40), horizon=st.integers(1, 12), test=st.integers(1, 4), min_fit=st.integers(1, 8))
def test_no_fitting_row_sees_what_is_held_out(n, horizon, test, min_fit):
    cfg = SplitConfig(test_snapshots=test, min_fit_snapshots=min_fit)
    plan = plan_evaluation(months(n), horizon, cfg, seed=1)
    assert_no_leakage(plan)
    assert plan.kind == (OOT if n >= oot_needs(horizon, cfg) else HOLDOUT)
    assert 1 <= len(plan.test) <= test


def test_no_labelled_snapshot_is_a_config_error():
    with pytest.raises(ConfigError, match="No labelled snapshot"):
        plan_evaluation([], 6, SplitConfig(), seed=0)


def test_bad_split_settings_name_the_key():
    with pytest.raises(ConfigError, match="`model.split.holdout_share` must be a share in"):
        plan_evaluation(months(20), 6, SplitConfig(holdout_share=1.5), seed=0)
    with pytest.raises(ConfigError, match="`model.split.folds` must be a whole number of at least 2"):
        plan_evaluation(months(20), 6, SplitConfig(folds=1), seed=0)


def test_gap_with_missing_months_uses_dates_not_positions():
    snaps = months(30)
    del snaps[20:23]  # three months missing in the extract
    assert_no_leakage(plan_evaluation(snaps, 6, SplitConfig(), seed=0))


def test_backtest_origins_are_the_last_labelled_snapshots_and_do_not_leak():
    snaps = months(30)
    plans = backtest_plans(snaps, 6, SplitConfig(), folds=4)
    assert [p.test[0] for p in plans] == snaps[-4:]
    for plan in plans:
        assert plan.kind == OOT and len(plan.test) == 1
        assert_no_leakage(plan)


def test_backtest_on_a_short_extract_says_train_still_works():
    with pytest.raises(ConfigError, match="account-disjoint holdout"):
        backtest_plans(months(7), 6, SplitConfig(), folds=4)


def test_time_folds_keep_the_label_gap_and_short_fits_fold_by_account():
    cfg = SplitConfig()
    long = plan_evaluation(months(37), 6, cfg, seed=0)
    rows = grid(long.fit, 50)
    folds = inner_folds(rows, long, cfg)
    assert folds.scheme == "time" and len(folds.parts) == cfg.folds
    for train, valid in folds.parts:
        (v,) = set(rows["snapshot"].iloc[valid])
        assert all(s + pd.DateOffset(months=6) <= v for s in rows["snapshot"].iloc[train])
    short = plan_evaluation(months(6), 6, cfg, seed=0)
    rows = grid(short.fit, 50)
    rows = rows[short.fit_mask(rows)]
    folds = inner_folds(rows, short, cfg)
    assert folds.scheme == "accounts"
    for train, valid in folds.parts:
        assert not set(rows["account_id"].iloc[train]) & set(rows["account_id"].iloc[valid])
    assert sorted(np.concatenate([v for _, v in folds.parts])) == list(range(len(rows)))
