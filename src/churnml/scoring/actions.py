"""Actions: the playbook's recommended action for an account's reasons."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Collection, Sequence

import numpy as np
import pandas as pd

from churnml.config import ScoreConfig
from churnml.constraints import check_field
from churnml.errors import ConfigError
from churnml.features.dictionary import FAMILIES as FEATURE_FAMILIES

DEFAULT_ACTION = "Review the account with its manager"
# A switching cost of `inf` in a sentence (cells say it short: churnml.report.ABOVE_RANGE).
ABOVE_RANGE_WORDS = "above the largest discount seen"

def check_playbook(playbook: Mapping[str, str], families: Sequence[str], features: Sequence[str]) -> None:
    """Raise ConfigError for a playbook key that is neither `default`, a feature family, a feature
    name nor the beginning of one (a typo would otherwise silently never match)."""
    check_field(ScoreConfig, "playbook", dict(playbook), "score.playbook")
    for key in playbook:
        if key == "default" or key in families or any(f.startswith(key) for f in features):
            continue
        raise ConfigError(
            f"score.playbook has key {key!r}, which is not 'default', a feature family "
            f"({', '.join(sorted(set(families)))}), nor a feature name or the beginning of one"
        )


def action_for(
    feature: str, family: str, playbook: Mapping[str, str], families: Collection[str] = FEATURE_FAMILIES
) -> str | None:
    """The playbook action for one reason: the key equal to the feature, else the longest key the
    feature name starts with (`on_time_rate` covers on_time_rate_3m and _12m), else the family's
    key; None when nothing matches. Keys that name a family only match by family."""
    if feature in playbook:
        return playbook[feature]
    prefixes = [k for k in playbook if k != "default" and k not in families and feature.startswith(k)]
    if prefixes:
        return playbook[max(prefixes, key=len)]
    return playbook.get(family)


def recommend_action(
    reasons: Sequence[tuple[str, str]], playbook: Mapping[str, str], values: Mapping[str, Any] | None = None
) -> str:
    """The action for the first reason (feature, family) the playbook covers, else its `default`.

    Action texts may use `{switching_cost}` and `{deepest_discount}`, filled from `values`."""
    text = None
    for feature, family in reasons:
        text = action_for(feature, family, playbook)
        if text:
            break
    text = text or playbook.get("default") or DEFAULT_ACTION
    if "{" in text:
        text = text.format_map(_ActionValues(values or {}))
    return text


class _ActionValues(dict):
    """Fills the placeholders of an action text with the account's values, as percents."""

    def __init__(self, values: Mapping[str, Any]):
        super().__init__()
        self.values = values

    def __missing__(self, key: str) -> str:
        value = self.values.get(key)
        if key in ("switching_cost", "deepest_discount"):
            return format_fraction(value)
        return "unknown" if value is None else str(value)


def format_fraction(value: Any) -> str:
    """0.085 -> '8.5 %'; inf -> 'above the largest discount seen'; missing -> 'not estimated'."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return "not estimated"
    value = float(value)
    if np.isinf(value):
        return ABOVE_RANGE_WORDS
    return f"{value * 100:.1f} %"
