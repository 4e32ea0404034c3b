"""Actions: the playbook's recommended action for an account's reasons."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Callable, Collection, Sequence

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


def playbook_key(
    feature: str, family: str, playbook: Mapping[str, str], families: Collection[str] = FEATURE_FAMILIES
) -> str | None:
    """The playbook key that covers one reason: the key equal to the feature, else the longest
    key the feature name starts with (`on_time_rate` covers on_time_rate_3m and _12m), else the
    family's key; None when nothing matches. Keys that name a family only match by family."""
    if feature in playbook:
        return feature
    prefixes = [k for k in playbook if k != "default" and k not in families and feature.startswith(k)]
    if prefixes:
        return max(prefixes, key=len)
    return family if family in playbook else None


def action_for(
    feature: str, family: str, playbook: Mapping[str, str], families: Collection[str] = FEATURE_FAMILIES
) -> str | None:
    """The playbook action for one reason (see `playbook_key`); None when nothing matches."""
    key = playbook_key(feature, family, playbook, families)
    return None if key is None else playbook[key]


# What must hold for the account today before an action is recommended, by the subject of the
# playbook key it was found under: no complaint action without an open complaint, no delivery
# action without a measured delivery problem, no price action without a competitor's offer.
DELIVERY_DROP = 0.05  # on-time rate this far below its 12-month level or its region's
LATE_DAYS = 2.0  # deliveries this late on average over 12 months


def _number(values: Mapping[str, Any], key: str) -> float:
    value = values.get(key) if values is not None else None
    try:
        value = float(value)
    except (TypeError, ValueError):
        return float("nan")
    return value


def open_complaint(values: Mapping[str, Any]) -> bool:
    """At least one complaint is open (not resolved) today."""
    return _number(values, "complaints_open") > 0


def delivery_problem(values: Mapping[str, Any]) -> bool:
    """Deliveries measurably worse than usual: on time this quarter well below the account's 12
    months or its region's, deliveries days late on average, or delivery complaints this year."""
    return (
        _number(values, "on_time_rate_change_3v12") <= -DELIVERY_DROP
        or _number(values, "on_time_rate_vs_region_3m") <= -DELIVERY_DROP
        or _number(values, "late_days_mean_12m") >= LATE_DAYS
        or _number(values, "complaints_delivery_12m") > 0
    )


def competitor_offer(values: Mapping[str, Any]) -> bool:
    """A competitor offered the account a price below ours in the last 12 months, and a price
    move could still move the account: its switching cost lies within the discounts seen (an
    account no discount in that range moves is not kept by a price review)."""
    return _number(values, "deepest_discount") > 0 and not np.isinf(_number(values, "switching_cost"))


def condition_of(key: str) -> Callable[[Mapping[str, Any]], bool] | None:
    """The condition an action found under playbook `key` needs; None when it fits any state."""
    if key in ("on_time_rate", "late_days_mean_12m", "complaints_delivery") or key.startswith("on_time_rate"):
        return delivery_problem
    if key in ("competitor", "complaints_price", "discount_depth_12m") or key.startswith("price_gap"):
        return competitor_offer
    if key.startswith("complaint"):
        return open_complaint
    return None


def recommend_action(
    reasons: Sequence[tuple[str, str]], playbook: Mapping[str, str], values: Mapping[str, Any] | None = None
) -> str:
    """The action for the first reason (feature, family) the playbook covers and whose
    condition (`condition_of`) holds for the account's `values` (its features, switching cost
    and deepest discount), else the playbook's `default`.

    Action texts may use `{switching_cost}`, `{deepest_discount}` and `{offer}` ("a competitor
    quoted 12.0 % below us; we can defend up to about 18.0 %"), filled from `values`."""
    text = None
    for feature, family in reasons:
        key = playbook_key(feature, family, playbook)
        if key is None:
            continue
        condition = condition_of(key)
        if condition is None or values is None or condition(values):
            text = playbook[key]
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
        if key == "offer":
            return offer_words(self.values.get("deepest_discount"), self.values.get("switching_cost"))
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


def offer_words(discount: Any, margin: Any) -> str:
    """The competitor's offer and the margin the account can be defended on, in words."""
    if _number({"d": discount}, "d") > 0:
        offer = f"a competitor quoted {float(discount) * 100:.1f} % below us"
    else:
        offer = "no competitor offer is known"
    cost = _number({"m": margin}, "m")
    if np.isnan(cost):
        return offer
    if np.isinf(cost):
        return f"{offer}; it would take a discount {ABOVE_RANGE_WORDS} to move the account"
    return f"{offer}; we can defend up to about {cost * 100:.1f} %"

