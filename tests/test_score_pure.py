"""The pure parts of scoring: bands, priority, reasons, actions, changes, win-back."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from churnml.config import ScoreConfig
from churnml.errors import ConfigError
from churnml.features.competitor import deepest_discount as deepest_recent_discount
from churnml.months import parse_month
from churnml.report.build import summarise
from churnml.scoring.actions import check_playbook, format_fraction, recommend_action
from churnml.scoring.changes import compare_lists
from churnml.scoring.priority import rank_by_priority, retention_priority, risk_band
from churnml.scoring.reasons import REASON_SEP, rank_reasons, top_reasons
from churnml.scoring.risk_list import score_accounts
from churnml.scoring.winback import win_back_list
from helpers.score_fixtures import (
    FAMILIES,
    FixedSwitchingModel,
    TinyChurnModel,
    accounts_table,
    features_frame,
    plain_reason,
    ranked_band_first,
)

PLAYBOOK = {
    "complaints": "Resolve open complaints",
    "relationship": "Executive visit",
    "competitor": "Price review within {switching_cost}",
    "switching": "Deepen structural bonds",
    "orders_lines": "Share-of-wallet plan",
    "orders": "Capacity and delivery review",
    "default": "Account review",
}


@pytest.fixture(scope="module")
def frame():
    return features_frame(400, seed=1)


@pytest.fixture(scope="module")
def model(frame):
    return TinyChurnModel(frame)


def cfg(**kw) -> ScoreConfig:
    return ScoreConfig(playbook=dict(PLAYBOOK), **kw)


# --------------------------------------------------------------------------- months, bands


def test_parse_month_accepts_yyyy_mm_and_names_the_parameter_otherwise():
    assert parse_month("2025-07") == pd.Timestamp("2025-07-01")
    for bad in ("2025-7", "July", "2025-13", "2025-07-01"):
        with pytest.raises(ConfigError, match="score.as_of"):
            parse_month(bad)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=1, max_size=50), st.floats(0.01, 0.98), st.floats(0.01, 0.98))
def test_risk_band_is_the_riskiest_threshold_reached(p, a, b):
    high, medium = max(a, b), min(a, b)
    if high == medium:
        return
    bands = risk_band(np.array(p), {"high": high, "medium": medium})
    expected = ["high" if x >= high else "medium" if x >= medium else "low" for x in p]
    assert bands.tolist() == expected


def test_risk_bands_config_is_checked():
    with pytest.raises(ConfigError, match="score.risk_bands.high"):
        risk_band(np.array([0.5]), {"high": 1.5})
    with pytest.raises(ConfigError, match="must differ"):
        risk_band(np.array([0.5]), {"high": 0.3, "medium": 0.3})


# --------------------------------------------------------------------------- priority


def test_priority_formula():
    frame = pd.DataFrame(
        {
            "account_id": ["a", "b", "c", "d", "e"],
            "revenue_at_risk": [1000.0, 1000.0, 1000.0, 1000.0, 500.0],
            "influence": [0.0, 1.0, 0.4, np.nan, 0.2],
            "switching_cost": [0.05, 0.05, 0.10, 0.02, np.inf],
            "deepest_discount": [0.02, 0.08, np.nan, 0.03, 0.5],
        }
    )
    w = {"influence": 0.5, "low_switching_cost": 0.3}
    got = retention_priority(frame, w)
    # a: cost above discount; b: full influence and cost below discount; c: no known discount;
    # d: missing influence counts as 0; e: cost above the largest discount seen never counts as low.
    expected = [1000.0, 1000.0 * 1.5 * 1.3, 1000.0 * 1.2, 1000.0 * 1.3, 500.0 * 1.1]
    np.testing.assert_allclose(got.to_numpy(), expected)
    # Zero weights give revenue at risk itself.
    np.testing.assert_allclose(
        retention_priority(frame, {"influence": 0, "low_switching_cost": 0}), frame["revenue_at_risk"]
    )


def test_priority_without_switching_columns_skips_that_factor():
    frame = pd.DataFrame({"account_id": ["a"], "revenue_at_risk": [100.0], "influence": [1.0]})
    assert retention_priority(frame, {"influence": 1.0, "low_switching_cost": 5.0}).iloc[0] == 200.0


def test_priority_weights_are_checked():
    frame = pd.DataFrame({"revenue_at_risk": [1.0]})
    with pytest.raises(ConfigError, match="unknown key.*influnce"):
        retention_priority(frame, {"influnce": 0.5})
    with pytest.raises(ConfigError, match="score.weights.influence"):
        retention_priority(frame, {"influence": -1})


# --------------------------------------------------------------------------- reasons


def reference_reasons(row: pd.Series, families: dict[str, str], n: int):
    """Brute force: per family the sum and the best feature; positive ones, largest first."""
    out = []
    for fam in sorted(set(families.values())):
        feats = sorted(f for f in families if families[f] == fam)
        total = sum(row[f] for f in feats)
        best = max(feats, key=lambda f: (row[f], -feats.index(f)))
        if total > 0 and row[best] > 0:
            out.append((-total, fam, best))
    return [(best, fam) for _, fam, best in sorted(out)[:n]]


@settings(max_examples=80, deadline=None)
@given(
    st.integers(1, 6),
    st.lists(st.sampled_from(["f1", "f2", "f3"]), min_size=2, max_size=7),
    st.data(),
)
def test_rank_reasons_matches_a_brute_force_reference(n_rows, fam_of, data):
    families = {f"x{i}": fam for i, fam in enumerate(fam_of)}
    values = data.draw(
        st.lists(st.lists(st.sampled_from([-1.0, -0.25, 0.0, 0.25, 0.5, 1.0, 2.0]), min_size=len(families),
                          max_size=len(families)), min_size=n_rows, max_size=n_rows)
    )
    contribs = pd.DataFrame(values, columns=list(families))
    contribs["bias"] = 5.0  # never a reason
    got = rank_reasons(contribs, families, n=2)
    for i in range(n_rows):
        assert [(f, fam) for f, fam, _ in got[i]] == reference_reasons(contribs.iloc[i], families, 2)


def test_reasons_follow_the_sign_and_ranking_of_lightgbm_contributions(frame, model):
    contribs = model.contributions(frame)
    reasons = top_reasons(contribs, frame, FAMILIES, n=3, format_reason=plain_reason)
    fam_sums = contribs.drop(columns="bias").T.groupby(pd.Series(FAMILIES)).sum().T
    with_reasons = 0
    for i, rs in enumerate(reasons):
        sums = [r.contribution for r in rs]
        assert sums == sorted(sums, reverse=True)
        for r in rs:
            assert contribs.iloc[i][r.feature] > 0  # only features that push risk up
            assert np.isclose(r.contribution, fam_sums.iloc[i][r.family])
            same = [f for f, fam in FAMILIES.items() if fam == r.family]
            assert contribs.iloc[i][r.feature] == contribs.iloc[i][same].max()
            # the account's own value is in the words
            assert r.text == plain_reason(r.feature, frame.iloc[i][r.feature])
        # every family left out pushes risk up less than the last one given (or not at all)
        chosen = {r.family for r in rs}
        floor = sums[-1] if len(rs) == 3 else 0.0
        others = fam_sums.iloc[i].drop(list(chosen))
        assert (others <= floor + 1e-12).all() or len(rs) < 3 and (others <= 0).all()
        with_reasons += bool(rs)
    assert with_reasons > len(frame) / 2


def test_the_riskiest_accounts_get_the_reasons_the_data_was_built_with(frame, model):
    contribs = model.contributions(frame)
    p = model.predict_proba(frame)
    top = np.argsort(-p)[:20]
    reasons = top_reasons(contribs.iloc[top], frame.iloc[top], FAMILIES, format_reason=plain_reason)
    families = {r.family for rs in reasons for r in rs}
    # churn was driven by trend, complaints and missing visits; the competitor discount was noise
    assert {"orders", "complaints", "relationship"} <= families


# --------------------------------------------------------------------------- actions


def test_recommend_action_prefers_feature_then_prefix_then_family_then_default():
    pb = {"orders_lines_12m": "exact", "orders_": "prefix", "orders_t": "longer prefix", "orders": "family",
          "default": "fallback"}
    assert recommend_action([("orders_lines_12m", "orders")], pb) == "exact"
    assert recommend_action([("orders_lines_3m", "orders")], pb) == "prefix"
    assert recommend_action([("orders_trend", "orders")], pb) == "longer prefix"
    assert recommend_action([("trend_orders", "orders")], pb) == "family"
    # a family key never matches as a prefix: complaints_open is in family "complaints" anyway,
    # but a feature of another family starting with a family name is not caught by it
    assert recommend_action([("orders_x", "peers")], {"orders": "o", "default": "d"}) == "d"
    assert recommend_action([("tier", "account")], pb) == "fallback"
    assert recommend_action([], pb) == "fallback"
    # the first covered reason decides
    assert recommend_action([("tier", "account"), ("x", "orders")], {"orders": "o"}) == "o"


def test_action_text_is_filled_with_the_accounts_values():
    pb = {"competitor": "Price review within {switching_cost} (offered {deepest_discount})"}
    got = recommend_action([("x", "competitor")], pb, {"switching_cost": 0.085, "deepest_discount": 0.12})
    assert got == "Price review within 8.5 % (offered 12.0 %)"
    got = recommend_action([("x", "switching")], {"switching": "within {switching_cost} ({switch})"},
                           {"switching_cost": float("inf"), "deepest_discount": 0.1})
    assert "above the largest discount seen" in got and "unknown" in got
    assert format_fraction(None) == "not estimated"
    # No competitor offer known: a price action does not fit, the default does.
    assert recommend_action([("x", "competitor")], pb, {"switching_cost": 0.085}) == "Review the account with its manager"


def test_playbook_typos_are_config_errors():
    check_playbook(PLAYBOOK, sorted(set(FAMILIES.values())), list(FAMILIES))
    with pytest.raises(ConfigError, match="complaitns.*not 'default'"):
        check_playbook({"complaitns": "x"}, ["complaints"], ["complaints_open"])
    check_playbook({"complaints_op": "x"}, ["complaints"], ["complaints_open"])  # a prefix is fine
    with pytest.raises(ConfigError, match="score.playbook.orders"):
        check_playbook({"orders": ""}, ["orders"], [])


# --------------------------------------------------------------------------- the list


def test_score_accounts_builds_a_ranked_list(frame, model):
    accounts = accounts_table(frame["account_id"])
    discount = pd.Series(frame["competitor_discount_12m"].to_numpy(), index=frame["account_id"])
    f = frame.copy()
    f.loc[f.index[:5], "in_scope"] = False
    rl = score_accounts(f, model, FixedSwitchingModel(), accounts, cfg(), deepest_discount=discount,
                        format_reason=plain_reason)
    assert len(rl) == len(f) - 5 and not rl["account_id"].isin(f["account_id"].iloc[:5]).any()
    assert rl["rank"].tolist() == list(range(1, len(rl) + 1))
    assert ranked_band_first(rl) and (rl["risk_band"] != "low").any() and (rl["risk_band"] == "low").any()
    np.testing.assert_allclose(rl["revenue_at_risk"], rl["churn_probability"] * rl["revenue_12m"])
    row = rl.set_index("account_id").loc["A0042"]
    src = f.set_index("account_id").loc["A0042"]
    assert row["name"] == "Company A0042"
    np.testing.assert_allclose(row["switching_cost"], 0.2 * (1 - src["switching_custom_share"]))
    np.testing.assert_allclose(row["deepest_discount"], src["competitor_discount_12m"])
    assert set(rl["risk_band"]) <= {"high", "medium", "low"}
    assert rl["action"].str.len().min() > 0
    # the action follows the first reason's family through the playbook, when it fits today
    open_now = rl["account_id"].map(f.set_index("account_id")["complaints_open"]) > 0
    first = rl["reason_families"].str.split(REASON_SEP).str[0] == "complaints"
    assert (first & open_now).sum() and (rl.loc[first & open_now, "action"] == "Resolve open complaints").all()
    assert not (rl.loc[~open_now, "action"] == "Resolve open complaints").any()
    # below every band: no reasons, no action to take
    low = rl["risk_band"] == "low"
    assert low.any() and (rl.loc[low, "reason_1"] == "no notable risk").all() and (rl.loc[low, "reason_features"] == "").all()


@settings(max_examples=60)
@given(
    st.lists(st.tuples(st.sampled_from(["high", "medium", "low"]), st.floats(0, 1e6)), min_size=1, max_size=40)
)
def test_accounts_with_a_notable_risk_rank_before_the_low_band_each_by_priority(rows):
    frame = pd.DataFrame(
        {"account_id": [f"A{i:03d}" for i in range(len(rows))], "risk_band": [b for b, _ in rows],
         "priority": [p for _, p in rows]}
    ).sample(frac=1.0, random_state=0)
    rank = rank_by_priority(frame)
    assert sorted(rank) == list(range(1, len(rows) + 1))
    ordered = frame.loc[rank.sort_values().index]
    assert ranked_band_first(ordered)


def test_ties_in_priority_are_ranked_by_account_id(frame, model):
    f = frame.head(30).copy()
    f["revenue_12m"] = 0.0  # every priority is 0
    rl = score_accounts(f, model, None, accounts_table(f["account_id"]), cfg(), format_reason=plain_reason)
    for _, group in rl.groupby(rl["risk_band"] == "low", sort=False):  # the notable bands first
        assert group["account_id"].tolist() == sorted(group["account_id"])
    assert rl["switching_cost"].isna().all() and rl["switch_probability"].isna().all()


# --------------------------------------------------------------------------- changes


def two_months(frame, model):
    """Month 1 and month 2 lists: two accounts leave scope, two new appear, trends change."""
    accounts = accounts_table([f"A{i:04d}" for i in range(410)])
    m1 = frame.head(200).copy()
    m2 = features_frame(400, seed=1, snapshot="2025-02-01").head(202).copy()
    m2.loc[m2.index[:2], "in_scope"] = False  # A0000, A0001 leave
    rng = np.random.default_rng(5)
    m2["orders_revenue_trend_3m"] = m2["orders_revenue_trend_3m"] + rng.normal(0, 0.3, len(m2))
    m2.loc[m2.index[200:], "account_id"] = ["A0400", "A0401"]  # two new accounts
    c = cfg()
    l1 = score_accounts(m1, model, None, accounts, c, format_reason=plain_reason)
    l2 = score_accounts(m2, model, None, accounts, c, format_reason=plain_reason)
    return l1, l2


def test_changes_on_two_consecutive_months(frame, model):
    l1, l2 = two_months(frame, model)
    ch = compare_lists(l2, l1)
    assert ch.previous_as_of == "2025-01"
    rows = pd.concat([l2[["account_id", "rank", "reason_features", "reason_1", "reason_2", "reason_3"]], ch.rows], axis=1)
    rows = rows.set_index("account_id")
    assert set(rows.index[rows["change"] == "new"]) == {"A0400", "A0401"}
    assert set(ch.left["account_id"]) == {"A0000", "A0001"}
    prev = l1.set_index("account_id")
    for acc, r in rows.drop(["A0400", "A0401"]).iterrows():
        move = prev.at[acc, "rank"] - r["rank"]
        assert r["change"] == ("=" if move == 0 else f"up {move}" if move > 0 else f"down {-move}")
        assert r["previous_rank"] == prev.at[acc, "rank"]
        before = set(prev.at[acc, "reason_features"].split(REASON_SEP))
        feats = [x for x in r["reason_features"].split(REASON_SEP) if x]
        expected = [r[f"reason_{k + 1}"] for k, x in enumerate(feats) if x not in before]
        assert r["new_reasons"] == REASON_SEP.join(expected)
    moved = rows["change"].str.startswith(("up", "down"))
    assert moved.sum() > 10  # the trend change moved accounts both ways
    assert rows["new_reasons"].str.len().gt(0).any()
    left = ch.left.set_index("account_id")
    assert left.at["A0000", "previous_rank"] == prev.at["A0000", "rank"]


def test_first_list_has_nothing_to_compare_with(frame, model):
    l1, _ = two_months(frame, model)
    ch = compare_lists(l1, None)
    assert ch.previous_as_of is None and ch.left.empty
    assert ch.rows["change"].isna().all() and ch.rows["previous_rank"].isna().all()


# --------------------------------------------------------------------------- discounts, win-back, summaries


def test_deepest_recent_discount_uses_the_last_12_months_before_as_of():
    signals = pd.DataFrame(
        {
            "account_id": ["a", "a", "a", "b", "c", "d"],
            "observed_at": pd.to_datetime(["2024-06-30", "2024-07-01", "2025-06-30", "2025-03-01", "2025-07-01", "2025-01-01"]),
            "price_gap": [-0.5, -0.10, -0.05, 0.04, -0.3, np.nan],
        }
    )
    got = deepest_recent_discount(signals, pd.Timestamp("2025-07-01"))
    # a: the -0.5 is 12 months + 1 day old; b: competitor dearer; c: on the as-of day; d: no gap
    assert got.to_dict() == {"a": pytest.approx(0.10)}


def test_win_back_lists_the_losses_of_the_last_12_months_with_when_why_and_to_whom():
    as_of = pd.Timestamp("2025-07-01")
    feats = pd.DataFrame(
        {"account_id": ["a", "b", "c", "d", "e"], "snapshot": as_of,
         "in_scope": [True, False, False, False, False], "recently_lost": [False, True, True, True, True],
         "revenue_12m": [5.0, 10.0, 30.0, 0.0, 0.0]}
    )
    orders = pd.DataFrame(
        {"account_id": ["b", "b", "c", "c", "d", "e", "e"],
         "order_date": pd.to_datetime(["2024-11-03", "2025-02-10", "2024-12-01", "2025-07-02", "2023-09-01",
                                       "2024-08-01", "2025-04-20"]),
         "net_amount": [5.0, 5.0, 30.0, 9.0, 50.0, 40.0, 1.0]}
    )
    outcomes = pd.DataFrame({"account_id": ["d", "e"], "lost_at": pd.to_datetime(["2023-10-15", "2025-05-03"]),
                             "reason": ["competitor", "competitor"], "competitor": ["Rival", "Acme"]})
    tables = {"accounts": accounts_table(["a", "b", "c", "d", "e"]), "orders": orders, "outcomes": outcomes}
    wb = win_back_list(feats, tables, as_of).set_index("account_id")
    assert list(wb.index) == ["e", "c", "b"]  # d's recorded loss is older than 12 months
    assert wb.loc["b", "lost_month"] == "2025-03" and wb.loc["b", "evidence"] == "no order since 2025-02"
    # orders on or after the as-of month are ignored
    assert wb.loc["c", "lost_month"] == "2025-01" and wb.loc["c", "last_order_month"] == "2024-12"
    assert wb.loc["e", "lost_month"] == "2025-05" and wb.loc["e", "evidence"] == "loss recorded"
    assert (wb.loc["e", "reason"], wb.loc["e", "competitor"]) == ("went to a competitor", "Acme")
    assert wb["revenue_before_loss"].tolist() == [41.0, 30.0, 10.0]


def test_summaries_add_up(frame, model):
    rl = score_accounts(frame, model, None, accounts_table(frame["account_id"]), cfg(), format_reason=plain_reason)
    for by in ("tier", "industry", "account_manager"):
        s = summarise(rl, by, ["high", "medium", "low"])
        assert s["accounts"].sum() == len(rl)
        assert np.isclose(s["revenue_at_risk"].sum(), rl["revenue_at_risk"].sum())
        assert (s[["high_band", "medium_band", "low_band"]].sum(axis=1) == s["accounts"]).all()
        assert s["revenue_at_risk"].is_monotonic_decreasing


def test_changes_are_numbers_that_sort():
    previous = pd.DataFrame({"as_of": "2025-01", "account_id": ["a", "b", "c"], "rank": [1, 2, 3],
                             "churn_probability": [0.5, 0.2, 0.1], "revenue_at_risk": [500.0, 200.0, 50.0],
                             "reason_features": ["", "", ""]})
    current = pd.DataFrame({"account_id": ["b", "a", "d"], "rank": [1, 2, 3], "churn_probability": [0.4, 0.45, 0.3],
                            "revenue_at_risk": [400.0, 450.0, 90.0], "reason_features": ["", "", ""],
                            "reason_1": "", "reason_2": "", "reason_3": ""})
    rows = compare_lists(current, previous).rows
    assert rows["rank_change"].tolist()[:2] == [1, -1] and pd.isna(rows["rank_change"].iloc[2])
    np.testing.assert_allclose(rows["churn_probability_change"].iloc[:2], [0.2, -0.05])
    np.testing.assert_allclose(rows["revenue_at_risk_change"].iloc[:2], [200.0, -50.0])
    assert rows["change"].tolist() == ["up 1", "down 1", "new"]


def test_the_csv_rounds_money_to_cents_and_probabilities_to_four_places():
    from churnml.scoring.risk_list import csv_text

    frame = pd.DataFrame({"revenue_12m": [1991715.9200000002, 5.0], "churn_probability": [0.123456789, 0.5],
                          "switching_cost": [float("inf"), 0.125]})
    text = csv_text(frame)
    assert "1991715.92," in text and "0.1235," in text and "inf" not in text
    lines = text.strip().splitlines()
    assert lines[0] == "revenue_12m,churn_probability,switching_cost,switching_cost_note"
    assert lines[1].endswith(",,above the largest discount seen") and lines[2].endswith(",0.125,")


def test_win_back_needs_months_of_data_before_a_loss_read_from_revenue():
    # A short extract: the data begin 2025-03; "a" stops after its first month. Whether it was
    # lost then or long before the extract began, the data cannot tell: it is not listed.
    as_of = pd.Timestamp("2025-07-01")
    feats = pd.DataFrame({"account_id": ["a"], "snapshot": as_of, "in_scope": [False], "recently_lost": [True],
                          "revenue_12m": [5.0]})
    orders = pd.DataFrame({"account_id": ["a", "z"], "order_date": pd.to_datetime(["2025-03-05", "2025-06-01"]),
                           "net_amount": [5.0, 1.0]})
    tables = {"accounts": accounts_table(["a", "z"]), "orders": orders}
    assert win_back_list(feats, tables, as_of).empty


def test_win_back_says_what_fell_when_orders_went_on_after_the_lost_month():
    """"lost in" before the last order is never left unexplained: the evidence says what fell."""
    as_of = pd.Timestamp("2025-07-01")
    feats = pd.DataFrame({"account_id": ["f"], "snapshot": as_of, "in_scope": [False], "recently_lost": [True],
                          "revenue_12m": [5.0], "order_gap_mean_days": [40.0]})
    days = pd.to_datetime(["2023-07-05", "2023-10-05", "2024-01-05", "2024-04-05", "2024-06-05", "2024-07-05",
                           "2024-08-05", "2024-09-05", "2025-01-05"])
    orders = pd.DataFrame({"account_id": "f", "order_date": days, "net_amount": [100.0] * 8 + [5.0]})
    tables = {"accounts": accounts_table(["f"]), "orders": orders}
    row = win_back_list(feats, tables, as_of).set_index("account_id").loc["f"]
    assert row["lost_month"] == "2024-10" and row["last_order_month"] == "2025-01"
    # 800 over the 12 months before 2024-10 is 66.7 a month; 5 over the 9 months since is 0.8 % of it
    assert row["evidence"] == "revenue down to 1 % of usual since 2024-10"
