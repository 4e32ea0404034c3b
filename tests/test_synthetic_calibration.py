"""Calibration of the default world (2,000 accounts x 48 months, seed 42): realistic and not trivial.

The ranges are the issue's: 8-15 % of in-scope accounts churn within 6 months of a snapshot; the
oracle's out-of-time AUC lies in [0.80, 0.92]; no single observable column reaches 0.75; the top
20 % of accounts hold 70-85 % of revenue.
"""

from __future__ import annotations

import pytest

from churnml.data.synthetic import generate_world
from churnml.data.world_params import WorldParams
from churnml.world_figures import FEATURES, world_figures
from conftest import SMALL_WORLD_TODAY


@pytest.fixture(scope="module")
def default_figures():
    world = generate_world(2000, 48, "2021-01", seed=42, params=WorldParams(), today=SMALL_WORLD_TODAY)
    return world_figures(world, horizon=6)


@pytest.mark.slow
def test_default_world_churn_rate_is_realistic(default_figures):
    assert 0.08 <= default_figures["churn_rate"] <= 0.15


@pytest.mark.slow
def test_default_world_oracle_is_good_but_not_perfect(default_figures):
    assert 0.80 <= default_figures["oracle_auc"] <= 0.92


@pytest.mark.slow
def test_no_single_observable_column_separates_churners(default_figures):
    assert set(default_figures["feature_aucs"]) == set(FEATURES)
    assert default_figures["best_feature_auc"] < 0.75
    # ... but the columns carry signal: a world where nothing is visible teaches nothing either.
    assert default_figures["best_feature_auc"] > 0.55


@pytest.mark.slow
def test_default_world_revenue_is_concentrated_in_the_top_fifth(default_figures):
    assert 0.70 <= default_figures["top20_revenue_share"] <= 0.85


@pytest.mark.slow
def test_default_world_records_about_sixty_percent_of_losses(default_figures):
    assert 0.5 <= default_figures["recorded_share"] <= 0.7
