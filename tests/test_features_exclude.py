"""`features.exclude` leaves named features out of the frame (by default the leaky
`contract_months_remaining`, which comes from today's master record)."""

from __future__ import annotations

import pytest

from churnml.config import FeaturesConfig, LabelsConfig
from churnml.errors import ConfigError
from churnml.features import build_features
from helpers.features_tables import random_tables


def test_default_excludes_contract_months_remaining_but_keeps_the_anniversary():
    tables = random_tables(seed=3)
    frame = build_features(tables, FeaturesConfig(), LabelsConfig())
    assert "contract_months_remaining" not in frame.columns
    assert "months_to_contract_anniversary" in frame.columns


def test_exclude_nothing_brings_it_back_and_exclude_drops_any_feature():
    tables = random_tables(seed=3)
    kept = build_features(tables, FeaturesConfig(exclude=[]), LabelsConfig())
    assert "contract_months_remaining" in kept.columns
    dropped = build_features(tables, FeaturesConfig(exclude=["revenue_3m"]), LabelsConfig())
    assert "revenue_3m" not in dropped.columns and "revenue_3m" in kept.columns


def test_unknown_excluded_feature_is_a_config_error_naming_it():
    with pytest.raises(ConfigError, match="features.exclude.*revenu_3m"):
        build_features(random_tables(seed=3), FeaturesConfig(exclude=["revenu_3m"]), LabelsConfig())
