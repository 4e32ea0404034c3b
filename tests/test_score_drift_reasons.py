"""Drift (PSI) that means something, and reasons a salesperson can act on:
PSI against a hand-computed value, tie-aware bins, the recent-snapshot reference; descriptors
never shown as reasons; the words of every dictionary reason; the action follows the top reason."""

from __future__ import annotations

import math
import re
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
import yaml

from churnml.features.dictionary import FAMILIES, FEATURES, format_reason
from churnml.models.pyfunc import population_stability, psi, psi_edges, training_reference
from churnml.scoring.actions import action_for, condition_of, playbook_key, recommend_action
from churnml.scoring.reasons import descriptors, rank_reasons, top_reasons

ROOT = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- PSI


def test_psi_matches_a_hand_computed_value():
    # reference: half below 1, half at or above 1, none missing; new: a quarter below, three quarters above
    reference = {"x": {"kind": "numeric", "edges": [1.0], "proportions": [0.5, 0.5, 0.0]}}
    frame = pd.DataFrame({"x": [0.0, 2.0, 2.0, 2.0]})
    expected = (0.25 - 0.5) * math.log(0.25 / 0.5) + (0.75 - 0.5) * math.log(0.75 / 0.5)  # = 0.25 ln 3
    assert population_stability(reference, frame)["x"] == pytest.approx(expected, rel=1e-9)
    # an empty bin counts as epsilon = 1e-4, so a quarter newly missing is finite and large
    got = psi([0.5, 0.5, 0.0], [0.5, 0.25, 0.25])
    hand = (0.25 - 0.5) * math.log(0.25 / 0.5) + (0.25 - 1e-4) * math.log(0.25 / 1e-4)
    assert got == pytest.approx(hand, rel=1e-9)


def test_a_heavily_tied_value_is_a_bin_of_its_own():
    rng = np.random.default_rng(0)
    values = np.where(rng.random(2000) < 0.7, 0.0, rng.exponential(3.0, 2000))
    edges = psi_edges(values)
    assert 0.0 in edges and np.nextafter(0.0, 1.0) in edges
    shares = training_reference(pd.DataFrame({"x": values}), ["x"], {})["x"]["proportions"]
    zero_bin = int(np.searchsorted(edges, 0.0, side="right"))
    assert shares[zero_bin] == pytest.approx((values == 0).mean())
    assert max(s for i, s in enumerate(shares) if i != zero_bin) < 0.15  # the rest is spread out


def drifting_history(seed: int = 0) -> pd.DataFrame:
    """Twelve snapshots of a zero-heavy count and a continuous rate; in the first six the window
    is too short and both are missing, like the 12-month features of an early snapshot."""
    rng = np.random.default_rng(seed)
    parts = []
    for k, snapshot in enumerate(pd.date_range("2023-01-01", periods=12, freq="MS")):
        n = 600
        count = rng.poisson(0.4, n).astype(float)
        rate = rng.beta(20, 2, n)
        if k < 6:
            count[:], rate[:] = np.nan, np.nan
        parts.append(pd.DataFrame({"snapshot": snapshot, "count": count, "rate": rate, "peer": rng.choice([0.1, 0.3], n)}))
    return pd.concat(parts, ignore_index=True)


def test_psi_flags_a_shifted_feature_and_not_an_unshifted_one():
    history = drifting_history()
    reference = training_reference(history, ["count", "rate", "peer"], {}, recent=3, group_level=["peer"])
    fresh = drifting_history(seed=1)
    month = fresh[fresh["snapshot"] == fresh["snapshot"].max()]  # the next month, same world
    calm = population_stability(reference, month)
    assert calm["count"] < 0.1 and calm["rate"] < 0.1
    assert np.isnan(calm["peer"])  # one value per group and snapshot: not checked
    shifted = population_stability(reference, month.assign(rate=month["rate"] * 3, count=month["count"] * 3))
    assert shifted["rate"] > 0.25 and shifted["count"] > 0.25
    # the pooled reference, with its missing early windows, would have called the calm month drifted
    pooled = training_reference(history, ["count", "rate"], {})
    assert population_stability(pooled, month)["rate"] > 0.25


# --------------------------------------------------------------------------- reasons


REASON_FEATURES = [
    "category_spend", "employees", "months_to_contract_anniversary",  # account
    "complaints_open", "complaint_oldest_open_days",  # complaints
    "months_since_exec_visit", "interactions_3m",  # relationship
]


@pytest.fixture(scope="module")
def booster_and_frame():
    rng = np.random.default_rng(7)
    n = 600
    x = pd.DataFrame(
        {
            "category_spend": rng.lognormal(15, 1, n),
            "employees": rng.integers(50, 5000, n).astype(float),
            "months_to_contract_anniversary": rng.uniform(0, 12, n),
            "complaints_open": rng.poisson(0.6, n).astype(float),
            "complaint_oldest_open_days": rng.exponential(40, n),
            "months_since_exec_visit": rng.exponential(6, n),
            "interactions_3m": rng.poisson(3, n).astype(float),
        }
    )
    # the largest driver is a descriptor: big spenders churn more in this toy world
    logit = (-2 + 1.5 * (np.log(x["category_spend"]) - 15) + 0.8 * x["complaints_open"]
             + 0.1 * x["months_since_exec_visit"] - 0.3 * x["interactions_3m"])
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(float)
    params = {"objective": "binary", "num_leaves": 7, "min_data_in_leaf": 10, "verbose": -1,
              "seed": 0, "num_threads": 1, "deterministic": True}
    booster = lgb.train(params, lgb.Dataset(x, label=y), num_boost_round=40)
    contribs = pd.DataFrame(booster.predict(x, pred_contrib=True), columns=[*REASON_FEATURES, "bias"])
    return contribs, x


def test_descriptors_are_the_account_describing_features():
    assert set(descriptors(FEATURES)) >= {"category_spend", "employees", "industry", "region", "tier",
                                          "influence", "tenure_months"}
    assert not {"months_to_contract_anniversary", "complaints_open", "share_of_wallet"} & set(descriptors(FEATURES))


def test_descriptors_never_appear_as_reasons_but_still_drive_the_probability(booster_and_frame):
    contribs, x = booster_and_frame
    families = {f: FEATURES[f].family for f in REASON_FEATURES}
    assert contribs["category_spend"].abs().mean() > contribs["interactions_3m"].abs().mean()  # it matters
    reasons = top_reasons(contribs, x, families)
    shown = {r.feature for rs in reasons for r in rs}
    assert not shown & {"category_spend", "employees"}
    assert {"complaints_open", "months_since_exec_visit"} & shown
    # reasons follow the sign and ranking of the contributions of the actionable features alone
    actionable = contribs.drop(columns=["category_spend", "employees"])
    expected = rank_reasons(actionable, families, 3)
    for i, rs in enumerate(reasons):
        assert [(r.feature, r.family) for r in rs] == [(f, fam) for f, fam, _ in expected[i]]
        for r in rs:
            assert contribs.iloc[i][r.feature] > 0
            same = [f for f in actionable.columns if f != "bias" and families[f] == r.family]
            assert r.contribution == pytest.approx(actionable.iloc[i][same].sum())
            assert r.text == format_reason(r.feature, x.iloc[i][r.feature], x.iloc[i])


def test_the_action_follows_the_top_reason_with_the_default_playbook(booster_and_frame):
    playbook = yaml.safe_load((ROOT / "conf" / "score" / "default.yaml").read_text())["playbook"]
    assert set(FAMILIES) <= set(playbook)  # every family has an action: the top reason always decides
    contribs, x = booster_and_frame
    families = {f: FEATURES[f].family for f in REASON_FEATURES}
    checked = 0
    for i, rs in enumerate(top_reasons(contribs, x, families)):
        if not rs:
            continue
        values = {**x.iloc[i].to_dict(), "switching_cost": 0.08, "deepest_discount": 0.1}
        action = recommend_action([(r.feature, r.family) for r in rs], playbook, values)
        # The top reason decides, unless its action does not fit the account today.
        fits = [r for r in rs if (c := condition_of(playbook_key(r.feature, r.family, playbook))) is None or c(values)]
        expected = action_for(fits[0].feature, fits[0].family, playbook) if fits else playbook["default"]
        assert action == expected.format_map({"switching_cost": "8.0 %", "offer": action.split(": ", 1)[-1]})
        if fits and fits[0].family == "complaints":
            assert "complaint" in action.lower()
        checked += 1
    assert checked > 100


# --------------------------------------------------------------------------- words


def test_reason_words_examples():
    row = {"complaint_oldest_open_days": 31.2}
    assert format_reason("complaints_open", 1.0, row) == "1 complaint open for 31 days"
    assert format_reason("complaints_open", 2.0, row) == "2 complaints open, the oldest 31 days"
    # The age of the oldest says how many are open: it reads with "resolving the 3 open complaints".
    assert (format_reason("complaint_oldest_open_days", 51.0, {"complaints_open": 3.0})
            == "the oldest open complaint open for 51 days (3 open)")
    assert format_reason("complaints_opened_3m", 0.0) == "no complaints in the last 3 months"
    assert format_reason("months_since_competitor_signal", 0.1) == "competitor activity 3 days ago"
    assert format_reason("months_since_competitor_signal", 2.2) == "competitor activity 2 months ago"
    assert format_reason("months_since_exec_visit", 1.0) == "last executive visit 1 month ago"
    assert format_reason("revenue_trend_3v3", -0.456) == "orders down 46 % against the previous quarter"
    assert format_reason("revenue_3m", 1234567.4) == "revenue of the last 3 months 1,234,567"
    assert format_reason("product_lines_change", -2.0) == "2 fewer product lines than in the previous half-year"
    assert format_reason("product_lines_change", 1.0) == "1 more product line than in the previous half-year"


AWKWARD = [
    (re.compile(r"(?<![\d.,])1 (?:months|days|complaints|lines|visits|signals|contacts|activities)\b"), "plural after 1"),
    (re.compile(r"\b0\.\d+ months\b"), "fractions of a month"),
    (re.compile(r"\b\d+\.\d+ (?:days|months)\b"), "fractional days or months"),
    (re.compile(r"\{|\}|\[|\]"), "unfilled template"),
    (re.compile(r": unknown|\bunknown\b"), "unknown"),
    (re.compile(r"\+0|-0\b|\b0 \w+s\b"), "a zero shown as a number"),
]


@pytest.mark.parametrize("name", sorted(n for n, f in FEATURES.items() if f.actionable))
def test_every_reason_reads_naturally(name):
    """Each actionable feature's words at typical values of either sign, 0, 1 and missing (for
    features that can be missing; the score stage test checks real rows for "unknown")."""
    feature = FEATURES[name]
    values = ["steel"] if feature.kind == "categorical" else [0.0, 1.0, 2.0, 0.1, 0.4, 37.6, -1.0, -0.3]
    row = {n: 3.0 for n in FEATURES if FEATURES[n].kind == "numeric"}
    texts = [format_reason(name, v, row) for v in values]
    if feature.reason_missing:
        texts.append(format_reason(name, np.nan, row))
    for text in texts:
        assert text.strip(), name
        for pattern, what in AWKWARD:
            if what == "a zero shown as a number" and feature.unit not in ("count", "flag"):
                continue
            assert not pattern.search(text), f"{name}: {what}: {text!r}"


def test_a_saturated_feature_whose_ceiling_moves_a_thousandth_is_no_drift():
    """Most accounts near a ceiling (P(alive) of active buyers): a refit that moves the ceiling
    by a thousandth is no drift; a quarter of the accounts falling away from it still is."""
    rng = np.random.default_rng(3)

    def p_alive(n: int, ceiling: float, gone: float) -> np.ndarray:
        active = ceiling - rng.exponential(0.0008, n)
        return np.where(rng.random(n) < gone, rng.uniform(0.0, 0.9, n), active)

    reference = training_reference(pd.DataFrame({"p": p_alive(3000, 0.9985, 0.1)}), ["p"], {})
    assert len(reference["p"]["edges"]) < 9  # the deciles a thousandth apart are one bin
    moved = population_stability(reference, pd.DataFrame({"p": p_alive(1000, 0.9975, 0.1)}))["p"]
    assert moved < 0.25
    fallen = population_stability(reference, pd.DataFrame({"p": p_alive(1000, 0.9985, 0.35)}))["p"]
    assert fallen > 0.25


def test_a_skewed_feature_keeps_its_deciles():
    revenue = np.random.default_rng(0).lognormal(10, 2, 20000)
    assert len(psi_edges(revenue)) == 9
