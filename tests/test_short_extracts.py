"""A supplier's first extract: 12 or 18 months, accounts and orders only. It trains and scores;
the plan says which evaluation it used and why; no account is on both sides of a holdout;
tenure is not confused with the start of the extract."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from churnml.config import Config, FeaturesConfig, LabelsConfig
from churnml.data.contract import validate_tables
from churnml.data.extracts import cut_extract, generate_btyd_world
from churnml.features import build_features, feature_columns
from churnml.models.churn import fit_churn, training_rows
from churnml.models.split import HOLDOUT, OOT, plan_evaluation
from churnml.models.training import train_models
from helpers.features_tables import tables

TODAY = pd.Timestamp("2026-11-27").date()


def no_offers() -> pd.DataFrame:
    return pd.DataFrame({"account_id": pd.Series(dtype=str), "snapshot": pd.Series(dtype="datetime64[ns]"),
                         "offer_discount": pd.Series(dtype=float)})


@pytest.fixture(scope="module")
def cut12(small_world):
    typed = validate_tables(cut_extract(small_world.tables, 12), TODAY)
    assert set(typed) == {"accounts", "orders"} and typed["accounts"]["since"].isna().all()
    cfg = Config()
    return build_features(typed, cfg.features, cfg.labels)


def test_a_twelve_month_extract_trains_on_the_holdout_and_says_why(cut12, caplog):
    cfg = Config().model
    cfg.num_threads = 1
    with caplog.at_level(logging.INFO):
        result = train_models(cut12, feature_columns(cut12), cfg, 6, no_offers())
    assert result.plan.kind == HOLDOUT
    assert "holdout/auc" in result.metrics and not any(k.startswith("oot/") for k in result.metrics)
    assert {"baseline_bgnbd/holdout/auc", "baseline_recency/holdout/auc", "baseline_rfm/holdout/auc"} <= set(result.metrics)
    assert "an out-of-time test at horizon 6 needs at least 12" in caplog.text
    # Every labelled snapshot feeds the fit (the holdout takes accounts, not months), and the
    # model that scores is fitted on every labelled row, held-out accounts included.
    assert set(result.final.fitted_snapshots) == set(training_rows(cut12)["snapshot"])
    assert result.evaluation.fit.n_rows + result.metrics["data/rows_test"] <= len(result.rows)
    assert result.metrics["data/rows_fit"] == len(result.rows) == result.final.n_rows


def test_a_twelve_month_extract_leaves_out_what_its_fitting_snapshots_never_saw_whole(cut12, caplog):
    """The newest labelled snapshot of a 12-month extract has 6 months of history: a 12-month
    window never filled in training, while the scored month has it whole."""
    cfg = Config().model
    cfg.num_threads = 1
    with caplog.at_level(logging.INFO):
        result = train_models(cut12, feature_columns(cut12), cfg, 6, no_offers())
    assert {"revenue_12m", "lines_12m", "revenue_trend_yoy", "order_days_12m"} <= set(result.left_out)
    assert not set(result.left_out) & set(result.final.features)
    assert {"revenue_3m", "revenue_6m", "months_since_last_order", "bgnbd_p_alive"} <= set(result.final.features)
    assert "features left out: they need up to 15 months of history and the newest labelled snapshot has 6" in caplog.text


def test_no_holdout_account_reaches_the_fit(cut12):
    rows = training_rows(cut12)
    cfg = Config().model
    cfg.num_threads = 1
    plan = plan_evaluation(rows["snapshot"].unique(), 6, cfg.split, cfg.seed)
    held = plan.held_out(rows)
    assert 0.2 < held.mean() < 0.4
    fit_ids = set(rows.loc[plan.fit_mask(rows), "account_id"])
    test_ids = set(rows.loc[plan.test_mask(rows), "account_id"])
    assert fit_ids and test_ids and not fit_ids & test_ids
    # Scramble every row of the held-out accounts: the fitted model does not move.
    scrambled = rows.copy()
    scrambled.loc[held, "churn"] = 1.0 - scrambled.loc[held, "churn"]
    scrambled.loc[held, "revenue_3m"] = 0.0
    features = feature_columns(cut12)
    honest, tampered = fit_churn(rows, features, plan, cfg), fit_churn(scrambled, features, plan, cfg)
    probe = rows.head(200)
    np.testing.assert_array_equal(honest.predict_proba(probe), tampered.predict_proba(probe))


def test_eighteen_months_is_the_out_of_time_boundary(small_world):
    cfg = Config()
    for months, kind in ((18, OOT), (17, HOLDOUT)):
        typed = validate_tables(cut_extract(small_world.tables, months), TODAY)
        rows = training_rows(build_features(typed, cfg.features, cfg.labels))
        plan = plan_evaluation(rows["snapshot"].unique(), 6, cfg.model.split, 0)
        assert plan.kind == kind, months


def test_tenure_is_a_lower_bound_for_accounts_buying_when_the_extract_begins():
    t = tables(
        accounts=[{"account_id": "OLD"}, {"account_id": "NEW"}, {"account_id": "KNOWN", "since": "2015-03-01"}],
        orders=[
            {"account_id": "OLD", "order_date": "2024-01-10", "net_amount": 100.0},
            {"account_id": "OLD", "order_date": "2024-05-10", "net_amount": 100.0},
            {"account_id": "NEW", "order_date": "2024-04-02", "net_amount": 100.0},
            {"account_id": "KNOWN", "order_date": "2024-01-20", "net_amount": 100.0},
            {"account_id": "KNOWN", "order_date": "2024-06-20", "net_amount": 100.0},
        ],
    )
    frame = build_features(t, FeaturesConfig(families=["orders"]), LabelsConfig())
    at = frame[frame["snapshot"] == pd.Timestamp("2024-06-01")].set_index("account_id")
    assert at.loc["OLD", "tenure_is_lower_bound"] == 1.0  # buying in the extract's first month
    assert at.loc["NEW", "tenure_is_lower_bound"] == 0.0  # its first order is inside the extract
    assert at.loc["KNOWN", "tenure_is_lower_bound"] == 0.0  # `since` tells the real start
    assert at.loc["KNOWN", "tenure_months"] > 100
    assert (at["history_months"] == 5).all()  # five months of orders before 2024-06


def test_seasonality_never_looks_past_the_snapshot_whatever_the_horizon(small_world):
    tables = validate_tables(cut_extract(small_world.tables, 30), TODAY)
    twelve = build_features(tables, FeaturesConfig(families=["orders"]), LabelsConfig(horizon_months=12))
    longer = build_features(tables, FeaturesConfig(families=["orders"]), LabelsConfig(horizon_months=18))
    # A window of a year ago wider than 12 months would reach into the label window: it stops at 12.
    pd.testing.assert_series_equal(twelve["revenue_same_months_last_year"], longer["revenue_same_months_last_year"])


def test_btyd_world_is_a_customer_base_that_buys_until_it_leaves():
    world = generate_btyd_world(500, 24, seed=1)
    orders, truth = world.tables["orders"], world.truth.set_index("account_id")
    assert set(world.tables) == {"accounts", "orders"}
    assert orders["order_id"].is_unique and (orders["net_amount"] > 0).all()
    # Nobody orders after the death the truth records.
    last = orders.groupby("account_id")["order_date"].max()
    died = truth["died_at"].reindex(last.index)
    assert (last[died.notna()] <= died[died.notna()] + pd.Timedelta(days=1)).all()
    again = generate_btyd_world(500, 24, seed=1)
    pd.testing.assert_frame_equal(orders, again.tables["orders"])


@pytest.mark.slow
def test_train_and_score_a_twelve_month_csv_extract_from_the_command_line(small_world, tmp_path):
    from churnml.cli import main
    from churnml.io import write_frame

    folder = tmp_path / "export"
    folder.mkdir()
    for name, frame in cut_extract(small_world.tables, 12).items():
        write_frame(frame, folder / f"{name}.csv")
    common = [f"paths.root={tmp_path}", "data=files", f"data.dir={folder}", "data.format=csv",
              "today=2026-11-27", "model.num_threads=1"]
    assert main(["train", *common]) == 0
    champion = json.loads((tmp_path / "models" / "export" / "champion.json").read_text())
    assert champion["evaluation_plan"] == "holdout" and "needs at least 12" in champion["evaluation_reason"]
    assert "holdout/auc" in champion["metrics"]
    assert main(["score", *common]) == 0
    (month,) = [p for p in (tmp_path / "data" / "scores" / "export").iterdir() if p.is_dir()]
    page = (month / "report.html").read_text()
    assert "account-disjoint holdout" in page and "out-of-time" not in page.split("account-disjoint holdout")[0][-400:]
    assert Path(month / "risk_list.xlsx").exists()
