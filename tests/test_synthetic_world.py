"""The synthetic world: determinism, the contract, time, ground truth and its mechanics.

Fast tests on small worlds; the calibration of the default world is in
test_synthetic_calibration.py (slow).
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pandas.testing as pdt
import pytest

from churnml.data.contract import TABLES, validate_tables
from churnml.data.synthetic import SWITCH_COMPONENTS, generate_world, oracle_scores
from churnml.data.world_params import WorldParams
from churnml.errors import ConfigError
from conftest import SMALL_WORLD_TODAY

VOCABULARY = {
    ("competitor_signals", "kind"): {"quote", "visit", "trial_order", "tender_lost", "price_cut", "other"},
    ("interactions", "kind"): {"exec_visit", "sales_visit", "business_review", "training", "joint_development", "other"},
    ("complaints", "category"): {"quality", "delivery", "service", "price", "other"},
    ("contacts", "role"): {"decision_maker", "buyer", "technical", "other"},
    ("outcomes", "reason"): {"competitor", "business_decline", "other"},
    ("accounts", "tier"): {"key", "major", "standard"},
}


def monthly_revenue(world) -> pd.DataFrame:
    """Net revenue per account (rows) and month (columns), zeros where nothing was bought."""
    orders = world.tables["orders"]
    month = orders["order_date"].dt.to_period("M").dt.to_timestamp()
    table = orders.groupby(["account_id", month])["net_amount"].sum().unstack(fill_value=0.0)
    months = pd.date_range(world.start, periods=world.months, freq="MS")
    return table.reindex(index=world.tables["accounts"]["account_id"], columns=months, fill_value=0.0)


def test_same_seed_gives_the_same_world_and_another_seed_another():
    first = generate_world(120, 18, "2022-01", seed=11, today=SMALL_WORLD_TODAY)
    again = generate_world(120, 18, "2022-01", seed=11, today=SMALL_WORLD_TODAY)
    other = generate_world(120, 18, "2022-01", seed=12, today=SMALL_WORLD_TODAY)
    for name, frame in first.tables.items():
        pdt.assert_frame_equal(frame, again.tables[name], obj=name)
    for name, frame in first.truth.items():
        pdt.assert_frame_equal(frame, again.truth[name], obj=f"truth {name}")
    assert not first.tables["orders"]["net_amount"].equals(other.tables["orders"]["net_amount"])


def test_tables_keep_the_contract_with_loader_dtypes(small_world):
    tables = small_world.tables
    assert set(tables) == set(TABLES)
    for name, frame in tables.items():
        spec = TABLES[name]
        assert list(frame.columns) == spec.names, name
        assert {c: str(t) for c, t in frame.dtypes.items()} == spec.dtypes, name
        assert len(frame) > 0, name
    typed = validate_tables(tables, date.fromisoformat(SMALL_WORLD_TODAY))
    for name, frame in typed.items():
        pdt.assert_frame_equal(frame, tables[name], obj=name)


def test_every_account_has_its_own_name():
    world = generate_world(accounts=2000, months=12, seed=42, today="2026-11-27")
    names = world.tables["accounts"]["name"]
    assert names.is_unique and names.str.len().gt(0).all()


def test_text_columns_use_the_contract_vocabularies(small_world):
    for (table, column), allowed in VOCABULARY.items():
        values = set(small_world.tables[table][column].dropna().unique())
        assert values <= allowed, (table, column, values - allowed)
        assert values, (table, column)


def test_accounts_hold_nothing_set_by_a_loss_and_truth_stays_out(small_world):
    accounts = small_world.tables["accounts"]
    assert list(accounts.columns) == TABLES["accounts"].names
    truth_only = {"churn_month", "churn_reason", "switching_cost", "hazard", "frailty", "share_of_wallet"}
    for frame in small_world.tables.values():
        assert not truth_only & set(frame.columns)
    # The master record looks the same for accounts that left and those that stayed.
    gone = set(small_world.truth["accounts"].dropna(subset=["churn_month"])["account_id"])
    is_gone = accounts["account_id"].isin(gone)
    assert 0.2 < is_gone.mean() < 0.8
    for column in ("contract_end", "since", "category_spend", "employees"):
        missing = accounts[column].isna()
        assert abs(missing[is_gone].mean() - missing[~is_gone].mean()) < 0.1, column


def test_no_date_is_later_than_today_and_the_world_is_cut_short(caplog):
    today = "2022-08-15"
    world = generate_world(150, 48, "2021-01", seed=3, today=today)
    assert world.months == 19  # 2021-01 .. 2022-07: the last whole month before today's
    assert "the world stops after 19 months" in caplog.text
    cutoff = pd.Timestamp(today)
    for name, frame in world.tables.items():
        for column in TABLES[name].dates:
            assert not (frame[column] > cutoff).any(), (name, column)
    assert world.tables["orders"]["order_date"].max() < pd.Timestamp("2022-08-01")
    assert world.truth["hazard"]["month"].max() == pd.Timestamp("2022-07-01")


def test_truth_is_complete_and_consistent(small_world):
    hazard, truth = small_world.truth["hazard"], small_world.truth["accounts"]
    ids = small_world.tables["accounts"]["account_id"]
    assert truth["account_id"].tolist() == ids.tolist()
    assert set(hazard["account_id"]) == set(ids)
    assert hazard["hazard"].between(0, 1).all() and (hazard["hazard"] > 0).all()
    combined = 1 - (1 - hazard["hazard_switch"]) * (1 - hazard["hazard_decline"])
    np.testing.assert_allclose(hazard["hazard"], combined)
    assert set(SWITCH_COMPONENTS) <= set(hazard.columns)
    # An account is at risk from its arrival until the month it decides to leave, inclusive.
    spans = hazard.groupby("account_id")["month"].agg(["min", "max", "size"])
    truth = truth.set_index("account_id")
    last_month = small_world.start + pd.DateOffset(months=small_world.months - 1)
    expected_last = truth["churn_month"].fillna(last_month)
    pdt.assert_series_equal(spans["max"], expected_last.loc[spans.index], check_names=False)
    pdt.assert_series_equal(spans["min"], truth["arrival_month"].loc[spans.index], check_names=False)
    churned = truth["churn_month"].notna()
    assert set(truth.loc[churned, "churn_reason"]) == {"competitor", "business_decline"}
    assert truth.loc[~churned, "churn_reason"].isna().all()
    assert truth["switching_cost"].between(0.005, 0.5).all()


def test_about_sixty_percent_of_losses_are_recorded_after_they_happen(small_world):
    truth = small_world.truth["accounts"].set_index("account_id")
    outcomes = small_world.tables["outcomes"]
    assert outcomes["account_id"].is_unique
    recorded = truth.loc[outcomes["account_id"]]
    assert recorded["churn_month"].notna().all()
    assert (outcomes["lost_at"].to_numpy() >= recorded["churn_month"].to_numpy()).all()
    # Losses early enough that the record cannot fall after the end of the world.
    settled = truth["churn_month"] <= small_world.end - pd.DateOffset(months=5)
    share = truth.loc[settled, "outcome_recorded"].mean()
    assert settled.sum() >= 60
    assert 0.45 <= share <= 0.75


def test_orders_fall_to_a_small_residual_after_the_break(small_world):
    revenue = monthly_revenue(small_world)
    truth = small_world.truth["accounts"].set_index("account_id")
    months = revenue.columns
    ratios = []
    for account, row in truth.dropna(subset=["churn_month"]).iterrows():
        c = months.get_loc(row["churn_month"])
        b = months.get_loc(row["break_month"])
        if c < 6 or b + 3 >= len(months):
            continue
        before = revenue.loc[account].iloc[c - 6 : c].mean()
        after = revenue.loc[account].iloc[b + 1 : b + 4].mean()
        if before > 0:
            ratios.append(after / before)
    ratios = np.array(ratios)
    assert len(ratios) >= 30
    assert np.median(ratios) < 0.1
    assert (ratios < 0.35).mean() > 0.85


def test_leaders_influence_and_revenue_concentration(small_world):
    truth = small_world.truth["accounts"]
    leaders = truth[truth["is_leader"]]
    assert leaders.groupby("industry").size().between(1, 2).all()
    assert set(leaders["industry"]) == set(WorldParams().industries)
    assert (leaders["influence"] >= 0.75).all()
    assert (truth.loc[~truth["is_leader"], "influence"] <= 0.6).all()
    # Leaders are the largest accounts of their industry among those there from the start.
    present = truth[truth["arrival_month"] == small_world.start]
    for industry, group in present.groupby("industry"):
        top = group.nlargest(2, "expected_monthly_revenue")["account_id"]
        assert set(group.loc[group["is_leader"], "account_id"]) <= set(top), industry
    revenue = monthly_revenue(small_world).sum(axis=1).sort_values(ascending=False)
    revenue = revenue[revenue > 0]
    top = revenue.iloc[: int(np.ceil(0.2 * len(revenue)))].sum() / revenue.sum()
    assert 0.6 < top < 0.92


def test_returns_are_negative_lines_without_list_amount(small_world):
    orders = small_world.tables["orders"]
    returns = orders[orders["net_amount"] < 0]
    assert 0.003 < len(returns) / len(orders) < 0.05
    assert (returns["quantity"] < 0).all()
    assert returns["list_amount"].isna().all()
    sales = orders[orders["net_amount"] > 0]
    assert (sales["list_amount"].dropna() >= sales["net_amount"].loc[sales["list_amount"].notna()] - 0.01).all()


def test_imperfect_data_and_late_deliveries(small_world):
    orders = small_world.tables["orders"]
    missing = orders["delivered_date"].isna().mean()
    assert 0.02 < missing < 0.15
    sales = orders.dropna(subset=["delivered_date", "promised_date"])
    late = (sales["delivered_date"] > sales["promised_date"]).mean()
    assert 0.03 < late < 0.3
    accounts = small_world.tables["accounts"]
    assert accounts["employees"].isna().any() and accounts["employees"].notna().mean() > 0.8
    complaints = small_world.tables["complaints"]
    assert (complaints["resolved_at"].dropna() >= complaints.loc[complaints["resolved_at"].notna(), "opened_at"]).all()
    # Some complaints take months; some are still open at the end of the world.
    days = (complaints["resolved_at"] - complaints["opened_at"]).dt.days
    assert (days > 90).mean() > 0.05
    assert complaints["resolved_at"].isna().any()


def test_new_accounts_arrive_over_time(small_world):
    first_order = small_world.tables["orders"].groupby("account_id")["order_date"].min()
    arrived_later = (first_order >= small_world.start + pd.DateOffset(months=2)).mean()
    assert 0.2 < arrived_later < 0.45
    truth = small_world.truth["accounts"]
    assert (truth["arrival_month"] > small_world.start).mean() == pytest.approx(WorldParams().new_account_share, abs=0.02)


def test_a_low_switching_cost_goes_with_switching_to_a_competitor(small_world):
    truth = small_world.truth["accounts"]
    switched = truth["churn_reason"] == "competitor"
    stayed = truth["churn_month"].isna()
    assert switched.sum() >= 30
    assert truth.loc[switched, "switching_cost"].mean() < truth.loc[stayed, "switching_cost"].mean()


def test_oracle_scores(small_world):
    truth = small_world.truth
    snaps = [small_world.start + pd.DateOffset(months=k) for k in (0, 12, 24)]
    six = oracle_scores(truth, snaps, 6)
    twelve = oracle_scores(truth, snaps, 12)
    assert six["oracle"].between(0, 1).all()
    assert not six.duplicated(["account_id", "snapshot"]).any()
    merged = six.merge(twelve, on=["account_id", "snapshot"], suffixes=("_6", "_12"))
    assert len(merged) == len(six)
    assert (merged["oracle_12"] >= merged["oracle_6"]).all()
    accounts = truth["accounts"].set_index("account_id")
    at = six[six["snapshot"] == snaps[2]].set_index("account_id")
    gone = accounts.index[accounts["churn_month"] < snaps[2]]
    assert (at.loc[gone, "oracle"] == 1.0).all()
    not_yet = accounts.index[accounts["arrival_month"] > snaps[2]]
    assert len(not_yet) and not set(not_yet) & set(at.index)
    row = truth["hazard"].query("month == @snaps[1]").iloc[0]
    expected = 1 - (1 - row["hazard"]) ** 6
    got = six.query("snapshot == @snaps[1] and account_id == @row.account_id")["oracle"].item()
    assert got == pytest.approx(expected)


@pytest.mark.parametrize(
    "kwargs,named",
    [
        ({"months": 0}, "data.months"),
        ({"accounts": 3}, "data.accounts"),
        ({"start": "2021-13"}, "data.start"),
        ({"start": "2027-01"}, "data.start"),
        ({"params": WorldParams(industry_contest=[1.0, 2.0])}, "data.world.industry_contest"),
        ({"params": WorldParams(outcome_recorded_share=1.5)}, "data.world.outcome_recorded_share"),
        ({"params": WorldParams(exec_visit_rate=[0.1, 0.2])}, "data.world.exec_visit_rate"),
        ({"params": WorldParams(growth_months_min=20, growth_months_max=10)}, "data.world.growth_months_min"),
    ],
)
def test_bad_parameters_raise_a_config_error_naming_them(kwargs, named):
    args = {"accounts": 50, "months": 6, "start": "2021-01", "seed": 1, "today": SMALL_WORLD_TODAY} | kwargs
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        generate_world(**args)
