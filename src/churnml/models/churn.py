"""The churn model: LightGBM on the plan's fitting rows, calibrated on out-of-fold scores.

`fit_churn` is the procedure: it takes every fitting row of a plan (see `churnml.models.split`):
inner folds choose the tree count (the best mean validation AUC across folds) and give
out-of-fold scores, the calibrator is fitted on those, and the booster is then fitted on all
fitting rows with that tree count. No row is reserved only for early stopping or calibration.
The same procedure is judged at each origin of the evaluation plan and fitted once more on every
labelled snapshot for scoring, so the calibration scoring uses is made the way the one whose
error was measured out-of-time was made: on the time-ordered out-of-fold scores of the newest
fitting snapshots.

Categorical columns are pandas categories with the levels fixed at training; LightGBM handles
them natively. A level never seen in training becomes missing.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from churnml.config import CALIBRATION_METHODS, LgbmParams, ModelConfig
from churnml.constraints import check
from churnml.errors import ConfigError
from churnml.models.sample import row_weights
from churnml.models.split import Plan, inner_folds

log = logging.getLogger(__name__)

# Added to calibrated probabilities times the raw score so that the steps of an isotonic fit do
# not tie accounts the booster tells apart; far below any visible change of a probability.
_TIE_BREAK = 1e-6


# ----------------------------------------------------------------------------------------------
# Rows and matrices
# ----------------------------------------------------------------------------------------------


def training_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows a churn model can learn from or be tested on: labelled, in scope, with a churn label."""
    mask = frame["labelled"].astype(bool) & frame["in_scope"].astype(bool) & frame["churn"].notna()
    return frame.loc[mask]


def categorical_features(frame: pd.DataFrame, features: list[str]) -> list[str]:
    """Feature columns that are categorical (pandas category, or text) in `frame`."""
    return [
        c
        for c in features
        if isinstance(frame[c].dtype, pd.CategoricalDtype)
        or pd.api.types.is_string_dtype(frame[c].dtype)
        or frame[c].dtype == object
    ]


def category_levels(frame: pd.DataFrame, features: list[str]) -> dict[str, list[str]]:
    """The sorted levels (as text) of each categorical feature seen in `frame`."""
    levels = {}
    for c in categorical_features(frame, features):
        values = frame[c].dropna()
        levels[c] = sorted({str(v) for v in values.unique()})
    return levels


def as_text(col: pd.Series) -> pd.Series:
    """Values as text (object dtype), missing as None: how categorical features are matched to levels."""
    return col.astype(object).where(col.notna(), None).map(lambda v: v if v is None else str(v))


def to_matrix(frame: pd.DataFrame, features: list[str], levels: dict[str, list[str]]) -> pd.DataFrame:
    """The model matrix: `features` in order, numeric as float64, categorical as pandas
    categories with exactly the training `levels` (text input is accepted, unseen levels -> NaN)."""
    missing = [c for c in features if c not in frame.columns]
    if missing:
        raise ConfigError(
            f"the model needs feature columns that the data does not have: {missing[:10]}"
            + (" …" if len(missing) > 10 else "")
            + "; train a new model on these features (`churnml train`)"
        )
    out = {}
    for c in features:
        col = frame[c]
        if c in levels:
            out[c] = pd.Categorical(as_text(col), categories=levels[c])
        else:
            out[c] = pd.to_numeric(col, errors="coerce").astype("float64")
    return pd.DataFrame(out, index=frame.index)


def lgb_params(params: LgbmParams, seed: int, num_threads: int, **extra: Any) -> dict[str, Any]:
    """LightGBM parameters for a deterministic binary classifier."""
    p = asdict(params)
    p.pop("n_estimators")
    p.pop("early_stopping_rounds")
    return {
        "objective": "binary",
        "metric": "auc",
        "verbosity": -1,
        "seed": seed,
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": num_threads,
        **p,
        **extra,
    }


def booster_predict(booster: lgb.Booster, x: pd.DataFrame, **kwargs: Any) -> np.ndarray:
    """`booster.predict(x, **kwargs)` on the thread count the booster was fitted with.

    LightGBM keeps one thread count for the whole process and every call sets it; a prediction
    without one resets it to all cores, and a model training meanwhile in another thread (the
    origins are fitted side by side) then crashes the process."""
    return booster.predict(x, num_threads=int(booster.params.get("num_threads", 1)), **kwargs)


def trimmed(booster: lgb.Booster, n_trees: int) -> lgb.Booster:
    """A copy of `booster` with only its first `n_trees` trees (keeps the categorical levels)."""
    return lgb.Booster(model_str=booster.model_to_string(num_iteration=n_trees))


# ----------------------------------------------------------------------------------------------
# Calibration
# ----------------------------------------------------------------------------------------------


@dataclass
class Calibrator:
    """Maps the booster's raw probability to a calibrated one (isotonic or Platt)."""

    method: str
    model: Any

    @classmethod
    def fit(cls, method: str, raw: np.ndarray, y: np.ndarray, weight: np.ndarray | None = None) -> "Calibrator":
        """Fit on the raw probabilities `raw` of a calibration slice with outcomes `y` (and
        row weights `weight`, a sample's)."""
        if method == "isotonic":
            model = _smoothed_isotonic(np.asarray(raw, dtype=float), np.asarray(y, dtype=float), weight)
        elif method == "platt":
            model = LogisticRegression(C=1e6, max_iter=1000)
            model.fit(_logit(raw).reshape(-1, 1), np.asarray(y, dtype=int), sample_weight=weight)
        else:
            raise ConfigError(
                f"model.calibration must be one of {', '.join(CALIBRATION_METHODS)}; got {method!r}"
            )
        return cls(method=method, model=model)

    def transform(self, raw: np.ndarray) -> np.ndarray:
        """Calibrated probabilities for raw probabilities `raw`."""
        raw = np.asarray(raw, dtype=float)
        if self.method == "isotonic":
            out = self.model.predict(raw) + _TIE_BREAK * raw
        else:
            out = self.model.predict_proba(_logit(raw).reshape(-1, 1))[:, 1]
        # No account is certain to stay or to leave: a list that says 0 % or 100 % is not believed.
        return np.clip(out, PROBABILITY_FLOOR, 1.0 - PROBABILITY_FLOOR)


# Pseudo-observations at the base rate added to every isotonic step: its end steps, fitted on
# few accounts with no (or only) churners, would otherwise say 0 % or 100 %.
STEP_PRIOR = 10.0
PROBABILITY_FLOOR = 0.001  # calibrated probabilities lie in [0.1 %, 99.9 %]


@dataclass
class CenteredSteps:
    """A monotone calibration curve through the centre of each isotonic step: between two
    centres the probability rises linearly with the raw score, and the outer segments go on to
    the lowest and highest raw score fitted on (flat beyond). Accounts the booster tells apart get
    different probabilities instead of one step's value for dozens of them; at each step's centre
    the curve is the step's level, and an outer step, on one line through its centre, keeps its
    average exactly."""

    x: np.ndarray  # the lowest raw score, each step's centre (weighted mean of its rows), the highest
    y: np.ndarray  # the curve there, non-decreasing

    def predict(self, raw: np.ndarray) -> np.ndarray:
        """The curve at `raw`; beyond the scores fitted on it follows the booster's own ratio to
        the end (toward 0 below, toward 1 above) instead of a flat line, so that accounts the
        booster tells apart are not tied at the curve's ends."""
        raw = np.asarray(raw, dtype=float)
        out = np.interp(raw, self.x, self.y)
        lo, hi = float(self.x[0]), float(self.x[-1])
        below, above = raw < lo, raw > hi
        out[below] = self.y[0] * raw[below] / max(lo, 1e-12)
        out[above] = 1.0 - (1.0 - self.y[-1]) * (1.0 - raw[above]) / max(1.0 - hi, 1e-12)
        return out


def _smoothed_isotonic(raw: np.ndarray, y: np.ndarray, weight: np.ndarray | None = None) -> CenteredSteps:
    """Isotonic calibration whose steps are shrunk toward the base rate by `STEP_PRIOR`
    pseudo-observations (a Beta prior per step), refitted so that it stays monotone, then drawn
    through the steps' centres (`CenteredSteps`); rows count by `weight` (1 each when None)."""
    first = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(raw, y, sample_weight=weight)
    level = first.predict(raw)
    w = np.ones(len(y)) if weight is None else np.asarray(weight, dtype=float)
    steps = pd.DataFrame({"level": level, "w": w, "wy": w * y}).groupby("level")[["w", "wy"]].sum()
    rate = (float(y.mean()) if weight is None else float(np.average(y, weights=w))) if len(y) else 0.5
    smoothed = (steps["wy"] + STEP_PRIOR * rate) / (steps["w"] + STEP_PRIOR)
    target = pd.Series(level).map(smoothed).to_numpy(dtype=float)
    fitted = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(raw, target, sample_weight=weight)
    final = fitted.predict(raw)
    centres = pd.DataFrame({"level": final, "w": w, "wx": w * raw}).groupby("level")[["w", "wx"]].sum()
    centres = centres[centres["w"] > 0]
    x = (centres["wx"] / centres["w"]).to_numpy(dtype=float)
    level = centres.index.to_numpy(dtype=float)
    if len(x) > 1:  # the outer segments extended to the ends of the fitted range
        lo, hi = float(raw.min()), float(raw.max())
        slope_lo = (level[1] - level[0]) / (x[1] - x[0])
        slope_hi = (level[-1] - level[-2]) / (x[-1] - x[-2])
        x = np.concatenate([[lo], x, [hi]])
        level = np.concatenate([[level[0] - slope_lo * (x[1] - lo)], level, [level[-1] + slope_hi * (hi - x[-2])]])
    return CenteredSteps(x=x, y=np.clip(level, 0.0, 1.0))


def _logit(p) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


# ----------------------------------------------------------------------------------------------
# Fitting
# ----------------------------------------------------------------------------------------------


@dataclass
class ChurnFit:
    """A fitted churn model: booster, calibrator, and the plan whose fitting rows it learnt from."""

    booster: lgb.Booster
    calibrator: Calibrator
    features: list[str]
    levels: dict[str, list[str]]
    n_trees: int
    params: dict[str, Any]
    fitted_snapshots: tuple[pd.Timestamp, ...]
    horizon: int
    valid_auc: float = float("nan")  # mean validation AUC of the inner folds at `n_trees`
    plan: Plan | None = None
    n_rows: int = 0  # fitting rows

    def matrix(self, frame: pd.DataFrame) -> pd.DataFrame:
        return to_matrix(frame, self.features, self.levels)

    def predict_raw(self, frame: pd.DataFrame) -> np.ndarray:
        """Uncalibrated probabilities of the booster."""
        return booster_predict(self.booster, self.matrix(frame))

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Calibrated churn probabilities."""
        return self.calibrator.transform(self.predict_raw(frame))

    @property
    def label_end(self) -> pd.Timestamp:
        """First month after the label window of the newest snapshot it was fitted on."""
        return max(self.fitted_snapshots) + pd.DateOffset(months=self.horizon)


def _labels(part: pd.DataFrame) -> np.ndarray:
    return part["churn"].to_numpy(dtype=float)


def _mean_curve(curves: list[list[float]]) -> np.ndarray:
    """Mean validation AUC per tree count across folds; a fold that stopped early keeps its last value."""
    longest = max(len(c) for c in curves)
    padded = np.array([list(c) + [c[-1]] * (longest - len(c)) for c in curves])
    return padded.mean(axis=0)


def fit_churn(rows: pd.DataFrame, features: list[str], plan: Plan, cfg: ModelConfig) -> ChurnFit:
    """Fit on every fitting row of `plan`: tree count from the inner folds, calibrator on their
    out-of-fold scores, booster on all fitting rows. `rows` are training rows (`training_rows`);
    nothing the plan holds out or leaves in its gap is used."""
    check(cfg, "model")
    started = time.perf_counter()
    fit_rows = rows[plan.fit_mask(rows)]
    y = _labels(fit_rows)
    if len(fit_rows) == 0 or len(np.unique(y)) < 2:
        raise ConfigError(
            f"the {len(fit_rows)} rows to fit on ({plan.name}) need both churned and retained "
            "accounts; use a longer extract or change model.split"
        )
    levels = category_levels(fit_rows, features)
    params = lgb_params(cfg.churn, cfg.seed, cfg.num_threads)
    x = to_matrix(fit_rows, features, levels)
    w = row_weights(fit_rows)
    part = (lambda idx: None) if w is None else (lambda idx: w[idx])
    folds = inner_folds(fit_rows, plan, cfg.split)
    curves, fold_models = [], []
    for train, valid in folds.parts:
        if len(np.unique(y[train])) < 2 or len(np.unique(y[valid])) < 2:
            continue
        dtrain = lgb.Dataset(x.iloc[train], label=y[train], weight=part(train), free_raw_data=True)
        dvalid = lgb.Dataset(x.iloc[valid], label=y[valid], weight=part(valid), reference=dtrain)
        record: dict = {}
        booster = lgb.train(
            params,
            dtrain,
            num_boost_round=cfg.churn.n_estimators,
            valid_sets=[dvalid],
            valid_names=["valid"],
            callbacks=[
                lgb.early_stopping(cfg.churn.early_stopping_rounds, verbose=False),
                lgb.record_evaluation(record),
            ],
        )
        curves.append(record["valid"]["auc"])
        fold_models.append((booster, valid))
    if not curves:
        raise ConfigError(
            f"no inner fold of the {len(fit_rows)} rows to fit on has both churned and retained "
            "accounts on each side; use a longer extract or lower model.split.folds"
        )
    mean = _mean_curve(curves)
    n_trees = int(np.argmax(mean)) + 1
    out_of_fold = np.concatenate([booster_predict(b, x.iloc[v], num_iteration=n_trees) for b, v in fold_models])
    oof_y = np.concatenate([y[v] for _, v in fold_models])
    oof_w = None if w is None else np.concatenate([w[v] for _, v in fold_models])
    calibrator = Calibrator.fit(cfg.calibration, out_of_fold, oof_y, oof_w)
    booster = lgb.train(params, lgb.Dataset(x, label=y, weight=w, free_raw_data=True), num_boost_round=n_trees)
    fit = ChurnFit(
        booster=booster,
        calibrator=calibrator,
        features=list(features),
        levels=levels,
        n_trees=n_trees,
        params=params,
        fitted_snapshots=tuple(sorted(fit_rows["snapshot"].unique())),
        horizon=plan.horizon,
        valid_auc=float(mean[n_trees - 1]),
        plan=plan,
        n_rows=len(fit_rows),
    )
    log.info(
        "churn model (%s): fitted on %d rows (%d snapshots to %s), %d trees chosen by %s "
        "(validation auc %.4f), %s calibration on %d out-of-fold scores (%.1fs)",
        plan.reason or plan.name,
        len(fit_rows),
        len(fit.fitted_snapshots),
        max(fit.fitted_snapshots).strftime("%Y-%m"),
        n_trees,
        folds.describe(),
        fit.valid_auc,
        cfg.calibration,
        len(out_of_fold),
        time.perf_counter() - started,
    )
    return fit


def importance(fit: ChurnFit) -> pd.Series:
    """Total gain of each feature, largest first."""
    gain = fit.booster.feature_importance(importance_type="gain")
    return pd.Series(gain, index=fit.booster.feature_name(), name="gain").sort_values(ascending=False)
