"""Metrics against values worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from churnml.evaluate import (
    brier,
    classification_metrics,
    expected_calibration_error,
    flatten,
    pr_auc,
    revenue_capture,
    roc_auc,
    summarize_backtest,
    top_decile_lift,
    top_share,
)

# Ten accounts, three churned (positions 0, 3, 6), scores strictly decreasing by position.
Y = np.array([1, 0, 0, 1, 0, 0, 1, 0, 0, 0], dtype=float)
P = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05])
REVENUE = np.array([100, 10, 10, 300, 10, 10, 600, 10, 10, 10], dtype=float)


def test_roc_auc_counts_correctly_ordered_pairs():
    # Pairs (churned, retained) = 3 x 7 = 21. Retained ranked below each churner:
    # position 0 -> 7, position 3 -> 5, position 6 -> 3; total 15.
    assert roc_auc(Y, P) == pytest.approx(15 / 21)


def test_pr_auc_is_average_precision_at_each_churner():
    # Precision at the ranks of the churners: 1/1, 2/4, 3/7.
    assert pr_auc(Y, P) == pytest.approx((1 + 2 / 4 + 3 / 7) / 3)


def test_brier_is_mean_squared_error():
    expected = np.mean((P - Y) ** 2)
    assert brier(Y, P) == pytest.approx(expected)
    assert brier([1, 0], [1.0, 0.0]) == 0.0


def test_expected_calibration_error_by_hand():
    y = np.array([1, 0, 0, 0, 1, 1])
    p = np.array([0.05, 0.05, 0.15, 0.15, 0.95, 0.85])
    # bins: [0, .1): mean p .05 vs rate .5 -> .45 x 2/6; [.1, .2): .15 vs 0 -> .15 x 2/6;
    # [.8, .9): .85 vs 1 -> .15 x 1/6; [.9, 1]: .95 vs 1 -> .05 x 1/6
    expected = (0.45 * 2 + 0.15 * 2 + 0.15 + 0.05) / 6
    assert expected_calibration_error(y, p) == pytest.approx(expected)


def test_expected_calibration_error_is_zero_for_perfect_rates():
    y = np.array([1, 0, 0, 0] * 25)
    p = np.full(100, 0.25)
    assert expected_calibration_error(y, p) == pytest.approx(0.0)


def test_top_decile_lift_and_revenue_capture():
    # Top 10 % of 10 rows = the first row, a churner: rate 1 against 0.3 overall.
    assert top_decile_lift(Y, P) == pytest.approx(1 / 0.3)
    # Churned revenue 100 + 300 + 600 = 1000, of which the first row holds 100.
    assert revenue_capture(Y, P, REVENUE) == pytest.approx(0.1)
    # Ranked by revenue instead, the top row is the 600 churner.
    assert revenue_capture(Y, REVENUE, REVENUE) == pytest.approx(0.6)


def test_ties_at_the_cut_are_shared_pro_rata():
    # 20 rows, top 10 % = 2 rows; four rows tie at the top score, two of them churners.
    score = np.array([1.0] * 4 + [0.0] * 16)
    values = np.array([1, 1, 0, 0] + [0] * 16, dtype=float)
    # The two top places go to the tied group: on average half of them churners.
    assert top_share(score, values, 0.1) == pytest.approx(1.0)
    # A constant score ranks nothing: lift 1.
    y = np.array([1, 0, 0, 0] * 5, dtype=float)
    assert top_decile_lift(y, np.zeros(20)) == pytest.approx(1.0)


def test_single_class_gives_nan_not_an_error():
    figures = classification_metrics(np.zeros(5), np.linspace(0, 1, 5), np.ones(5))
    assert math.isnan(figures["auc"])
    assert math.isnan(figures["lift_top10"])
    assert figures["brier"] == pytest.approx(np.mean(np.linspace(0, 1, 5) ** 2))


def test_flatten_namespaces_everyone_but_the_model():
    flat = flatten({"model": {"auc": 0.8}, "baseline_rule": {"auc": 0.6}}, prefix="oot/")
    assert flat == {"oot/auc": 0.8, "baseline_rule/oot/auc": 0.6}


def test_summarize_backtest_gives_mean_and_spread():
    import pandas as pd

    folds = pd.DataFrame(
        {
            "scorer": ["model", "model"],
            **{name: [0.7, 0.9] for name in ("auc", "pr_auc", "brier", "ece", "lift_top10", "revenue_capture_10")},
        }
    )
    summary = summarize_backtest(folds)["model"]
    assert summary["auc_mean"] == pytest.approx(0.8)
    assert summary["auc_std"] == pytest.approx(0.1)
