"""The churn model, the baselines and the switching model on small random feature frames."""

from __future__ import annotations

import ctypes
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from churnml.config import ModelConfig
from churnml.errors import ConfigError
from churnml.models.churn import fit_churn, to_matrix, training_rows
from churnml.models.evaluation import evaluate_split
from churnml.models.pyfunc import ChurnModel, population_stability, training_reference
from churnml.models.split import plan_evaluation
from churnml.models.switching import NoOffers, fit_switching, switching_rows
from helpers.churn_frames import FEATURES, feature_frame


@pytest.fixture(scope="module")
def world():
    frame, offers, true_cost = feature_frame(n_accounts=300, n_snapshots=30, seed=1)
    rows = training_rows(frame)
    split = plan_evaluation(rows["snapshot"].unique(), 6, ModelConfig(num_threads=1).split, seed=42)
    return frame, offers, true_cost, rows, split


def test_training_is_deterministic(world):
    frame, _, _, rows, split = world
    cfg = ModelConfig(num_threads=1)
    first = fit_churn(rows, FEATURES, split, cfg)
    second = fit_churn(rows, FEATURES, split, cfg)
    assert first.n_trees == second.n_trees
    np.testing.assert_array_equal(first.predict_proba(frame), second.predict_proba(frame))


def test_model_learns_signal_and_beats_the_baselines(world):
    frame, _, _, _, split = world
    result = evaluate_split(frame, FEATURES, split, ModelConfig(num_threads=1))
    model = result.metrics["model"]
    # No BG/NBD columns in this frame: that baseline is skipped, the others are there.
    assert set(result.metrics) == {"model", "baseline_rule", "baseline_rfm", "baseline_recency"}
    assert model["auc"] > 0.6
    assert model["auc"] > max(result.metrics[b]["auc"] for b in ("baseline_rule", "baseline_rfm"))
    # Only held-out rows are scored.
    assert set(result.scores["snapshot"]) == set(split.test)
    assert 0 <= result.scores["model"].min() and result.scores["model"].max() <= 1


def test_every_snapshot_the_plan_allows_feeds_the_fit(world):
    _, _, _, rows, split = world
    fit = fit_churn(rows, FEATURES, split, ModelConfig(num_threads=1))
    assert fit.fitted_snapshots == split.fit
    assert fit.n_rows == int(split.fit_mask(rows).sum())
    assert fit.booster.num_trees() == fit.n_trees


@pytest.mark.parametrize("method", ["isotonic", "platt"])
def test_calibration_methods_give_probabilities(world, method):
    frame, _, _, rows, split = world
    cfg = ModelConfig(num_threads=1, calibration=method)
    fit = fit_churn(rows, FEATURES, split, cfg)
    test = rows[split.test_mask(rows)]
    p = fit.predict_proba(test)
    assert ((0 <= p) & (p <= 1)).all()
    # Calibrated on out-of-fold scores: on rows it never saw, the mean probability is near the rate.
    assert p.mean() == pytest.approx(test["churn"].mean(), abs=0.04)


def test_unknown_calibration_is_a_config_error(world):
    _, _, _, rows, split = world
    with pytest.raises(ConfigError, match="model.calibration"):
        fit_churn(rows, FEATURES, split, ModelConfig(num_threads=1, calibration="beta"))


def test_categories_are_fixed_at_training_and_text_is_accepted(world):
    frame, _, _, rows, split = world
    fit = fit_churn(rows, FEATURES, split, ModelConfig(num_threads=1))
    assert fit.levels == {"industry": ["chemicals", "food", "metals", "paper"]}
    sample = frame.head(50).copy()
    as_text = sample.assign(industry=sample["industry"].astype(str))
    np.testing.assert_allclose(fit.predict_proba(sample), fit.predict_proba(as_text))
    unseen = sample.assign(industry="shipbuilding")
    assert to_matrix(unseen, FEATURES, fit.levels)["industry"].isna().all()
    assert np.isfinite(fit.predict_proba(unseen)).all()


def test_contributions_add_up_to_the_raw_log_odds(world):
    frame, _, _, rows, split = world
    fit = fit_churn(rows, FEATURES, split, ModelConfig(num_threads=1))
    model = ChurnModel(fit, fit, {}, {}, {}, {})
    sample = frame.head(40)
    contrib = model.contributions(sample)
    assert list(contrib.columns) == [*FEATURES, "bias"]
    raw = fit.predict_raw(sample)
    np.testing.assert_allclose(contrib.sum(axis=1), np.log(raw / (1 - raw)), rtol=1e-6)


def _lightgbm_thread_count() -> int:
    """The thread count LightGBM holds for the whole process (-1: all cores)."""
    from lightgbm.basic import _LIB

    return ctypes.c_int.in_dll(_LIB, "LGBM_DEFAULT_NUM_THREADS").value


def test_no_prediction_changes_the_thread_count_a_model_training_beside_it_uses(world):
    # Origins are fitted side by side in threads; LightGBM keeps one thread count per process, so a
    # prediction that reset it to all cores would crash a training running in another thread.
    frame, offers, _, rows, split = world
    cfg = ModelConfig(num_threads=1)
    fit = fit_churn(rows, FEATURES, split, cfg)
    switching = fit_switching(switching_rows(frame, offers), FEATURES, cfg)
    model = ChurnModel(fit, switching, {}, {}, {}, {})
    sample = frame.head(40)
    for predict in (fit.predict_proba, model.contributions, switching.curve, switching.switching_cost,
                    lambda f: switching.switch_probability(f, 0.1)):
        predict(sample)
        assert _lightgbm_thread_count() == cfg.num_threads, predict


def test_population_stability_is_zero_on_training_data_and_grows_with_drift(world):
    _, _, _, rows, _ = world
    reference = training_reference(rows, FEATURES, {"industry": ["chemicals", "food", "metals", "paper"]})
    assert population_stability(reference, rows).max() == pytest.approx(0.0, abs=1e-9)
    shifted = rows.assign(revenue_3m=rows["revenue_3m"] * 3, industry="food")
    psi = population_stability(reference, shifted)
    assert psi["revenue_3m"] > 0.25 and psi["industry"] > 0.25
    assert psi["noise"] == pytest.approx(0.0, abs=1e-9)


# ----------------------------------------------------------------------------------------------
# Switching-cost model
# ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def switching(world):
    frame, offers, _, _, _ = world
    return fit_switching(switching_rows(frame, offers), FEATURES, ModelConfig(num_threads=1))


def test_switching_probability_never_falls_with_a_deeper_discount(world, switching):
    frame = world[0]
    accounts = frame[frame["snapshot"] == frame["snapshot"].max()]
    curve = switching.curve(accounts)
    assert len(curve.columns) == len(switching.grid) > 10
    steps = np.diff(curve.to_numpy(), axis=1)
    assert (steps >= -1e-12).all()


def test_switching_cost_is_the_first_grid_point_reaching_one_half(world, switching):
    frame, _, true_cost, _, _ = world
    accounts = frame[frame["snapshot"] == frame["snapshot"].max()].set_index("account_id")
    cost = switching.switching_cost(accounts)
    curve = switching.curve(accounts)
    for account in accounts.index[:20]:
        reached = curve.columns[curve.loc[account] >= 0.5]
        assert cost[account] == (reached[0] if len(reached) else np.inf)
    assert cost.corr(true_cost.reindex(cost.index), method="spearman") > 0.6
    # The grid ends at the deepest discount the model was trained on.
    trained_on = switching_rows(frame, world[1])["offer_discount"].max()
    assert switching.grid[-1] == pytest.approx(trained_on, abs=switching.step / 2)


def test_switching_cost_is_inf_above_the_largest_discount_seen(world, switching):
    from dataclasses import replace

    frame = world[0]
    accounts = frame[frame["snapshot"] == frame["snapshot"].max()]
    top = switching.switch_probability(accounts, switching.max_discount)
    for threshold in (0.5, 0.9):
        model = replace(switching, threshold=threshold)
        cost = model.switching_cost(accounts).to_numpy()
        assert (np.isinf(cost) == (top < threshold)).all()
    assert np.isinf(replace(switching, threshold=0.9).switching_cost(accounts)).any()


def test_no_offers_is_reported_not_crashed(world):
    frame = world[0]
    empty = pd.DataFrame(columns=["account_id", "snapshot", "offer_discount"])
    with pytest.raises(NoOffers):
        fit_switching(switching_rows(frame, empty.astype({"snapshot": "datetime64[ns]"})), FEATURES, ModelConfig(num_threads=1))


def test_switching_features_pick_families_and_names_and_fall_back_to_all():
    from churnml.models.switching import switching_features

    names = ["revenue_3m", "joint_development_total", "tenure_months", "industry"]
    assert switching_features(names, ["switching", "tenure_months"]) == ["joint_development_total", "tenure_months"]
    assert switching_features(names, ["all"]) == names
    assert switching_features(["revenue_3m"], ["switching"]) == ["revenue_3m"]


# ----------------------------------------------------------------------------------------------
# Champion gate (the registry part is in test_tracking_registry.py)
# ----------------------------------------------------------------------------------------------


def _champion(rows, features, split, cfg, **recipe):
    from churnml.models.training import recipe as recipe_of

    evaluated = fit_churn(rows, features, split, cfg)
    return ChurnModel(evaluated, evaluated, {}, {}, {}, {"recipe": {**recipe_of(features, cfg, {}, 6), **recipe}})


def test_gate_refits_the_champion_recipe_when_its_evaluation_saw_the_new_test(world):
    from churnml.models.gate import champion_gate
    from churnml.models.split import oot_plan

    _, _, _, rows, split = world
    cfg = ModelConfig(num_threads=1)
    champion = _champion(rows, FEATURES, split, cfg)
    # A later run holds out more snapshots: the champion's evaluation was fitted on some of them.
    snaps = sorted(rows["snapshot"].unique())
    wider = oot_plan(snaps, snaps[-6:], 6, seed=42)
    assert champion.evaluation.label_end > wider.test[0]
    weak = ["noise", "lines_12m"]
    new = evaluate_split(rows, weak, wider, cfg)
    decision = champion_gate(new.metrics["model"]["auc"], ("1", champion), rows, wider, cfg,
                             scores=new.scores, recipe=_champion(rows, weak, split, cfg).info["recipe"])
    assert decision.method == "champion's recipe refitted on this plan"
    assert decision.alias == "challenger" and decision.champion_auc > decision.new_auc
    assert decision.high < 0, "a clear loss: the whole interval below zero"


def test_a_tie_keeps_the_champion_and_only_a_win_beyond_the_noise_replaces_it(world):
    from churnml.models.gate import champion_gate

    _, _, _, rows, split = world
    cfg = ModelConfig(num_threads=1)
    weak = ["noise", "lines_12m"]
    champion = _champion(rows, weak, split, cfg)
    # The champion's own scores as the new model's: the same ranking, a tie.
    held_out = rows[split.test_mask(rows)]
    same = held_out[["account_id", "snapshot", "churn"]].assign(model=champion.evaluation.predict_proba(held_out))
    tie = champion_gate(0.0, ("1", champion), rows, split, cfg, scores=same,
                        recipe=_champion(rows, FEATURES, split, cfg).info["recipe"])
    assert tie.method == "champion's evaluated model"
    assert tie.alias == "challenger" and tie.low <= 0 <= tie.high
    assert "a tie keeps the champion" in tie.describe() and "take_champion=true" in tie.describe()
    # A model with the signal against one without: better beyond the noise.
    strong = evaluate_split(rows, FEATURES, split, cfg)
    win = champion_gate(strong.metrics["model"]["auc"], ("1", champion), rows, split, cfg, scores=strong.scores,
                        recipe=_champion(rows, FEATURES, split, cfg).info["recipe"])
    assert win.alias == "champion" and win.low > 0 and win.new_auc > win.champion_auc
    # Promoted on purpose, a tie still makes the new model champion, and says so.
    forced = champion_gate(0.0, ("1", champion), rows, split, replace(cfg, gate=replace(cfg.gate, take_champion=True)),
                           scores=same, recipe=_champion(rows, FEATURES, split, cfg).info["recipe"])
    assert forced.alias == "champion" and forced.forced and "on purpose" in forced.describe()


def test_models_the_gate_cannot_compare_are_challengers_and_the_same_recipe_refreshes(world):
    from churnml.models.gate import champion_gate
    from churnml.models.training import recipe

    _, _, _, rows, split = world
    cfg = ModelConfig(num_threads=1)
    champion = _champion(rows, FEATURES, split, cfg, labels={"retained_share": 0.2})
    scores = rows[split.test_mask(rows)][["account_id", "snapshot", "churn"]].assign(model=0.5)
    mine = recipe(FEATURES, cfg, {"retained_share": 0.2}, 6)

    def gate(new_recipe, at=rows):
        return champion_gate(0.9, ("4", champion), at, split, cfg, scores=scores, recipe=new_recipe)

    assert gate({**mine, "horizon": 3}).alias == "challenger"
    assert "within 6 months, this run within 3" in gate({**mine, "horizon": 3}).describe()
    other_label = gate({**mine, "labels": {"retained_share": 0.1}})
    assert other_label.alias == "challenger" and "labels.retained_share" in other_label.describe()
    fewer = gate(recipe(["noise"], cfg, {"retained_share": 0.2}, 6), at=rows.drop(columns=["revenue_3m"]))
    assert fewer.alias == "challenger" and "revenue_3m" in fewer.method and fewer.champion_auc is None
    refreshed = gate(mine)
    assert refreshed.alias == "champion" and "recipe of champion version 4" in refreshed.describe()


def test_nothing_after_the_fitting_slices_reaches_the_evaluation_model(world):
    _, _, _, rows, split = world
    cfg = ModelConfig(num_threads=1)
    # Scramble every label and feature after the last fitting snapshot: the model, its tree count
    # and its calibrator must not change at all.
    later = rows["snapshot"] > max(split.fit)
    scrambled = rows.copy()
    scrambled.loc[later, "churn"] = 1.0 - scrambled.loc[later, "churn"]
    scrambled.loc[later, "revenue_3m"] = 0.0
    honest, tampered = fit_churn(rows, FEATURES, split, cfg), fit_churn(scrambled, FEATURES, split, cfg)
    assert honest.n_trees == tampered.n_trees
    probe = rows.head(300)
    np.testing.assert_array_equal(honest.predict_proba(probe), tampered.predict_proba(probe))
    for s in honest.fitted_snapshots:
        assert s + pd.DateOffset(months=6) <= min(split.test)


def test_training_without_offers_skips_the_switching_model(world):
    from churnml.models.training import train_models

    frame = world[0]
    empty = pd.DataFrame({"account_id": pd.Series(dtype=str), "snapshot": pd.Series(dtype="datetime64[ns]"),
                          "offer_discount": pd.Series(dtype=float)})
    cfg = ModelConfig(num_threads=1)
    cfg.churn.n_estimators = 60
    result = train_models(frame, FEATURES, cfg, 6, empty)
    assert result.switching is None
    assert "skipped" in result.switching_note
    assert "oot/auc" in result.metrics and "switching/n_offers" not in result.metrics


def test_isotonic_end_steps_never_say_certain():
    """Steps fitted on a few accounts that all stayed (or all left) are shrunk toward the base
    rate: no probability is 0 % or 100 %, and the order of the raw scores is kept."""
    from churnml.models.churn import PROBABILITY_FLOOR, Calibrator

    rng = np.random.default_rng(0)
    raw = rng.random(3000)
    y = (rng.random(3000) < raw**3).astype(float)
    y[raw < 0.2] = 0.0  # a long run of stayers at the bottom
    y[raw > 0.995] = 1.0  # a short run of leavers at the top
    cal = Calibrator.fit("isotonic", raw, y)
    p = cal.transform(np.sort(raw))
    assert p.min() >= PROBABILITY_FLOOR and p.max() <= 1 - PROBABILITY_FLOOR
    # the outer steps' levels are shrunk: the all-leavers top run does not read 100 % on average
    assert cal.model.y[-2] < 0.99 and p.min() > 0.0015
    assert (np.diff(p) >= -1e-9).all()


def test_isotonic_calibration_tells_apart_what_the_booster_tells_apart():
    """Between the centres of its outer steps the calibrated probability rises with the raw
    score (no dozens of accounts at one step's value); it passes through each step's level at
    the step's centre and stays calibrated on average."""
    from churnml.models.churn import Calibrator

    rng = np.random.default_rng(1)
    raw = rng.random(5000)
    y = (rng.random(5000) < 0.05 + 0.6 * raw**2).astype(float)
    cal = Calibrator.fit("isotonic", raw, y)
    inside = np.sort(raw[(raw > cal.model.x[0]) & (raw < cal.model.x[-1])])
    p = cal.transform(inside)
    # as a list shows them (to 0.1 %): far more values than the isotonic fit has steps
    assert len(np.unique(np.round(p, 3))) > 3 * len(cal.model.x)
    assert (np.diff(p) > 0).all()
    np.testing.assert_allclose(cal.model.predict(cal.model.x), cal.model.y)
    assert abs(cal.transform(raw).mean() - y.mean()) < 0.01


def test_each_origin_is_judged_by_a_refit_that_never_saw_its_label_window(world):
    """Scramble every label and feature on or after an origin: what that origin's model says of
    its own month does not move, and no origin's fit has a label window past its origin."""
    from churnml.models.split import origin_plans

    frame, _, _, rows, split = world
    cfg = ModelConfig(num_threads=1)
    honest = evaluate_split(rows, FEATURES, split, cfg)
    origins = origin_plans(split, rows["snapshot"].unique())
    assert [p.test for p in origins] == [(t,) for t in split.test]
    for fit, origin in zip(honest.fits, origins):
        (t,) = origin.test
        assert max(fit.fitted_snapshots) + pd.DateOffset(months=6) <= t
    last = split.test[-1]
    scrambled = rows.copy()
    after = rows["snapshot"] >= last
    scrambled.loc[after, "churn"] = 1.0 - scrambled.loc[after, "churn"]
    scrambled.loc[rows["snapshot"] > last - pd.DateOffset(months=6), "revenue_3m"] = 0.0
    scrambled.loc[rows["snapshot"] == last, ["revenue_3m"]] = rows.loc[rows["snapshot"] == last, ["revenue_3m"]]
    tampered = evaluate_split(scrambled, FEATURES, split, cfg)
    probe = rows[rows["snapshot"] == last]
    np.testing.assert_array_equal(honest.fits[-1].predict_proba(probe), tampered.fits[-1].predict_proba(probe))
    # The within-month AUC is what is reported, with its spread across the origins.
    assert 0 <= honest.metrics["model"]["auc_std"] < 0.2


def test_the_model_that_scores_has_seen_the_newest_labelled_snapshot(world):
    from churnml.models.training import train_models

    frame, offers, cost, rows, split = world
    result = train_models(frame, FEATURES, ModelConfig(num_threads=1), 6, offers, None, cost)
    newest = rows["snapshot"].max()
    assert max(result.final.fitted_snapshots) == newest
    assert result.final.n_rows == len(rows)
    # ... six months (H) before the month after the data: the newest whose outcome is known.
    assert frame["snapshot"].max() - pd.DateOffset(months=6) == newest
    # The model the gate compares with never saw a held-out month.
    assert result.evaluation.fit.label_end <= min(result.plan.test)


def test_the_final_calibration_is_made_as_the_measured_ones_were(world):
    """The measured calibration error is that of the procedure's calibrator at each origin
    (time-ordered out-of-fold scores of its newest fitting months); the model that scores gets
    its calibrator from the same procedure on every labelled month: refitting the procedure on
    each plan reproduces both exactly."""
    from churnml.evaluate import expected_calibration_error
    from churnml.models.split import final_plan, origin_plans
    from churnml.models.training import train_models

    frame, offers, cost, rows, split = world
    cfg = ModelConfig(num_threads=1)
    result = train_models(frame, FEATURES, cfg, 6, offers, None, cost)
    scores = result.evaluation.scores
    for origin in origin_plans(result.plan, rows["snapshot"].unique()):
        (t,) = origin.test
        at = rows[origin.test_mask(rows)]
        refit = fit_churn(rows, FEATURES, origin, cfg)
        np.testing.assert_array_equal(refit.predict_proba(at), scores.loc[scores["snapshot"] == t, "model"].to_numpy())
    assert result.metrics["oot/ece"] == pytest.approx(expected_calibration_error(scores["churn"], scores["model"]))
    again = fit_churn(rows, FEATURES, final_plan(result.plan, rows["snapshot"].unique()), cfg)
    np.testing.assert_array_equal(again.predict_proba(frame), result.final.predict_proba(frame))
    assert result.final.calibrator.method == cfg.calibration


def test_beyond_the_scores_it_was_fitted_on_the_calibration_keeps_the_boosters_order():
    """A month's accounts can score below (or above) every out-of-fold score the calibration
    saw: they follow the booster's ratio to the curve's end instead of one flat value, so the
    list does not tie dozens of accounts the booster tells apart; at the ends the curve joins."""
    from churnml.models.churn import Calibrator

    rng = np.random.default_rng(2)
    raw = 0.2 + 0.6 * rng.random(2000)  # fitted on scores in [0.2, 0.8]
    y = (rng.random(2000) < raw**2).astype(float)
    cal = Calibrator.fit("isotonic", raw, y)
    low, high = np.linspace(0.01, 0.19, 40), np.linspace(0.81, 0.99, 40)
    for side in (low, high):
        p = cal.transform(side)
        assert len(np.unique(np.round(p, 4))) == len(side) and (np.diff(p) > 0).all()
    lo, hi = cal.model.x[0], cal.model.x[-1]
    np.testing.assert_allclose(cal.model.predict(np.array([lo - 1e-9, lo, hi, hi + 1e-9])),
                               cal.model.predict(np.array([lo, lo, hi, hi])), atol=1e-6)
