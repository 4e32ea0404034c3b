"""BG/NBD: the likelihood and P(alive) against hand-worked cases, expected purchases against a
simulation of the process, the point-in-time features against a direct computation, the
baseline, and (slow) the fit against the reference library on the same data."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from churnml.config import FeaturesConfig, LabelsConfig
from churnml.features import build_features
from churnml.features.bgnbd import BgNbd, fit_bgnbd, log_likelihood
from churnml.models.baselines import fit_baselines
from helpers.features_naive import Naive
from helpers.features_tables import random_tables


def test_likelihood_of_hand_worked_customers():
    params = np.array([1.0, 2.0, 1.0, 2.0])  # r, alpha, a, b
    # x = 0 at T = 4: B(a, b)/B(a, b) * (alpha / (alpha + T))^r = 2 / 6.
    assert log_likelihood(params, np.array([0.0]), np.array([0.0]), np.array([4.0]))[0] == pytest.approx(math.log(1 / 3))
    # x = 1, t_x = 2, T = 4: B(1,3)/B(1,2) * 2/6^2 + B(2,2)/B(1,2) * 2/4^2 = 1/27 + 1/24 = 17/216.
    got = log_likelihood(params, np.array([1.0]), np.array([2.0]), np.array([4.0]))[0]
    assert got == pytest.approx(math.log(17 / 216))


def test_p_alive_of_hand_worked_customers():
    model = BgNbd(r=1.0, alpha=2.0, a=1.0, b=2.0)
    # 1 / (1 + a / (b + x - 1) * ((alpha + T) / (alpha + t_x))^(r + x)) = 1 / (1 + 1/2 * 1.5^2)
    assert model.p_alive([1.0], [2.0], [4.0])[0] == pytest.approx(1 / 2.125)
    assert model.p_alive([0.0], [0.0], [10.0])[0] == 1.0  # no repeat purchase: never seen to drop out
    # Bought lately (t_x near T) is more alive than bought long ago.
    assert model.p_alive([5.0], [39.0], [40.0])[0] > model.p_alive([5.0], [10.0], [40.0])[0]


def simulate(model: BgNbd, n: int, horizon: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Customers of the BG/NBD process from a first purchase at time 0: how many repeat purchases
    each makes in (0, horizon] and when the last one was (0 without any)."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(model.r, 1 / model.alpha, n)
    p = rng.beta(model.a, model.b, n)
    count, last, clock = np.zeros(n), np.zeros(n), np.zeros(n)
    alive = np.ones(n, dtype=bool)
    while alive.any():
        clock[alive] += rng.exponential(1 / lam[alive])
        bought = alive & (clock <= horizon)
        count[bought] += 1
        last[bought] = clock[bought]
        alive = bought & (rng.random(n) >= p)  # after each purchase the customer may drop out
    return count, last


def test_expected_purchases_match_a_simulation_of_the_process():
    model = BgNbd(r=2.0, alpha=4.0, a=1.5, b=3.0)
    count, _ = simulate(model, 200_000, 10.0, seed=0)
    expected = model.expected_purchases(10.0, [0.0], [0.0], [0.0])[0]
    assert count.mean() == pytest.approx(expected, rel=0.01)


def test_fit_recovers_the_parameters_of_simulated_customers():
    truth = BgNbd(r=1.5, alpha=6.0, a=0.8, b=4.0)
    n, T = 8000, 52.0
    x, t_x = simulate(truth, n, T, seed=1)
    fitted = fit_bgnbd(x, t_x, np.full(n, T))
    # MAX_FIT_ACCOUNTS of them are used: the estimates are close, not exact.
    assert fitted.r == pytest.approx(truth.r, rel=0.25)
    assert fitted.alpha == pytest.approx(truth.alpha, rel=0.3)
    assert fitted.a == pytest.approx(truth.a, rel=0.35)
    assert fitted.b == pytest.approx(truth.b, rel=0.5)


def test_features_are_bgnbd_fitted_at_each_snapshot_on_the_orders_before_it():
    world = random_tables(3, n_accounts=24, months=20)
    fcfg, lcfg = FeaturesConfig(), LabelsConfig()
    frame = build_features(world, fcfg, lcfg)
    naive = Naive(world, fcfg, lcfg)
    checked = 0
    for t in sorted(frame["snapshot"].unique())[-6::3]:
        t = pd.Timestamp(t)
        model = naive.bgnbd(t)
        at = frame[(frame["snapshot"] == t) & frame["bgnbd_p_alive"].notna()]
        assert model is not None and len(at) > 10
        for row in at.itertuples():
            x, t_x, T = naive.btyd_history(row.account_id, t)
            # features are float32: equal to their 7 digits
            assert row.bgnbd_p_alive == pytest.approx(model.p_alive(x, t_x, T), rel=2e-7)
            want = model.expected_purchases(6 * 30.4375 / 7, x, t_x, T)
            assert row.bgnbd_expected_order_days == pytest.approx(want, rel=2e-7, nan_ok=True)
            checked += 1
    assert checked > 20


def test_bgnbd_baseline_ranks_by_p_alive_and_expected_orders():
    n = 400
    rng = np.random.default_rng(2)
    churn = rng.random(n) < 0.3
    rows = pd.DataFrame(
        {
            "churn": churn.astype(float),
            "revenue_3m": 1.0, "revenue_6m": 2.0, "revenue_12m": 4.0,
            "months_since_last_order": rng.uniform(0, 3, n), "lines_12m": 10.0,
            # Churned accounts look dead to BG/NBD: low P(alive), few expected orders.
            "bgnbd_p_alive": np.where(churn, 0.2, 0.9) + rng.normal(0, 0.02, n),
            "bgnbd_expected_order_days": np.where(churn, 0.5, 6.0),
            "bgnbd_expected_vs_pace": np.where(churn, 0.1, 1.0),
        }
    )
    scores = fit_baselines(rows).predict(rows)
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(churn, scores["baseline_bgnbd"]) == 1.0
    assert scores["baseline_bgnbd"][churn].min() > scores["baseline_bgnbd"][~churn].max()
    # A calibrated probability: near the churn rate of each group.
    assert scores["baseline_bgnbd"][churn].mean() > 0.9 and scores["baseline_bgnbd"][~churn].mean() < 0.1
    # Without any one of its columns (features.exclude) that baseline is left out, the others stay.
    for column in ("bgnbd_p_alive", "bgnbd_expected_vs_pace"):
        assert set(fit_baselines(rows.drop(columns=[column])).predict(rows)) == {
            "baseline_rule", "baseline_rfm", "baseline_recency"}


@pytest.mark.slow
def test_fit_matches_the_lifetimes_library_on_the_same_data():
    lifetimes = pytest.importorskip("lifetimes")
    from churnml.data.extracts import generate_btyd_world

    world = generate_btyd_world(3000, 24, seed=3)
    end = world.start + pd.DateOffset(months=24)
    days = world.tables["orders"].groupby("account_id")["order_date"].agg(lambda s: sorted(set(s)))
    x = np.array([len(v) - 1 for v in days], dtype=float)
    t_x = np.array([(v[-1] - v[0]).days / 7 for v in days])
    T = np.array([(end - v[0]).days / 7 for v in days])
    pick = np.random.default_rng(0).choice(len(x), min(len(x), 4000), replace=False)
    x, t_x, T = x[pick], t_x[pick], T[pick]  # below MAX_FIT_ACCOUNTS: both fit every account
    ours = fit_bgnbd(x, t_x, T)
    ref = lifetimes.BetaGeoFitter().fit(x, t_x, T)
    for name in ("r", "alpha", "a", "b"):
        assert getattr(ours, name) == pytest.approx(float(ref.params_[name]), rel=1e-3)
    np.testing.assert_allclose(ours.p_alive(x, t_x, T), ref.conditional_probability_alive(x, t_x, T), atol=1e-3)
    np.testing.assert_allclose(
        ours.expected_purchases(26.0, x, t_x, T),
        ref.conditional_expected_number_of_purchases_up_to_time(26.0, x, t_x, T),
        rtol=1e-3,
    )
