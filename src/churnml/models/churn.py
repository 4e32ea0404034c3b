"""The churn model: LightGBM on the time-ordered split, a calibrator, and the refit on everything.

`fit_churn` grows trees on the train slice, stops early on the validation slice and fits the
calibrator on the calibration slice (see `churnml.models.split`). `refit_churn` then trains the
model that is registered for scoring on every labelled snapshot, with the tree count and the
calibrator settled by that evaluation: the newest behaviour matters most, and its out-of-time
figures are those of the evaluation.

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
from sklearn.metrics import roc_auc_score

from churnml.config import LgbmParams, ModelConfig
from churnml.errors import ConfigError
from churnml.models.split import TimeSplit

log = logging.getLogger(__name__)

CALIBRATION_METHODS = ("isotonic", "platt")
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
    def fit(cls, method: str, raw: np.ndarray, y: np.ndarray) -> "Calibrator":
        """Fit on the raw probabilities `raw` of a calibration slice with outcomes `y`."""
        if method == "isotonic":
            model = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
            model.fit(np.asarray(raw, dtype=float), np.asarray(y, dtype=float))
        elif method == "platt":
            model = LogisticRegression(C=1e6, max_iter=1000)
            model.fit(_logit(raw).reshape(-1, 1), np.asarray(y, dtype=int))
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
        return np.clip(out, 0.0, 1.0)


def _logit(p) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


# ----------------------------------------------------------------------------------------------
# Fitting
# ----------------------------------------------------------------------------------------------


@dataclass
class ChurnFit:
    """A fitted churn model: booster (trimmed to its trees), calibrator and what it was fitted on."""

    booster: lgb.Booster
    calibrator: Calibrator
    features: list[str]
    levels: dict[str, list[str]]
    n_trees: int
    params: dict[str, Any]
    fitted_snapshots: tuple[pd.Timestamp, ...]
    horizon: int
    valid_auc: float = float("nan")

    def matrix(self, frame: pd.DataFrame) -> pd.DataFrame:
        return to_matrix(frame, self.features, self.levels)

    def predict_raw(self, frame: pd.DataFrame) -> np.ndarray:
        """Uncalibrated probabilities of the booster."""
        return self.booster.predict(self.matrix(frame))

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Calibrated churn probabilities."""
        return self.calibrator.transform(self.predict_raw(frame))

    @property
    def label_end(self) -> pd.Timestamp:
        """First month after the label window of the newest snapshot it was fitted on."""
        return max(self.fitted_snapshots) + pd.DateOffset(months=self.horizon)


def _check(cfg: ModelConfig) -> None:
    if cfg.calibration not in CALIBRATION_METHODS:
        raise ConfigError(
            f"model.calibration must be one of {', '.join(CALIBRATION_METHODS)}; got {cfg.calibration!r}"
        )
    if cfg.churn.n_estimators < 1:
        raise ConfigError(f"model.churn.n_estimators must be at least 1; got {cfg.churn.n_estimators}")


def _labels(part: pd.DataFrame) -> np.ndarray:
    return part["churn"].to_numpy(dtype=float)


def fit_churn(rows: pd.DataFrame, features: list[str], split: TimeSplit, cfg: ModelConfig) -> ChurnFit:
    """Train on `split.train`, stop early on `split.valid`, calibrate on `split.calib`.

    `rows` are training rows (`training_rows`); nothing in `split.test` or the gap is used."""
    _check(cfg)
    started = time.perf_counter()
    snap = rows["snapshot"]
    train, valid, calib = (rows[snap.isin(s)] for s in (split.train, split.valid, split.calib))
    for name, part in (("train", train), ("validation", valid), ("calibration", calib)):
        if part.empty or part["churn"].nunique() < 2:
            raise ConfigError(
                f"the {name} slice ({len(part)} rows) needs both churned and retained accounts; "
                "use a longer extract or change model.split"
            )
    levels = category_levels(rows[snap.isin(split.fit_snapshots)], features)
    params = lgb_params(cfg.churn, cfg.seed, cfg.num_threads)
    x_valid = to_matrix(valid, features, levels)
    dtrain = lgb.Dataset(to_matrix(train, features, levels), label=_labels(train), free_raw_data=True)
    dvalid = lgb.Dataset(x_valid, label=_labels(valid), reference=dtrain)
    booster = lgb.train(
        params,
        dtrain,
        num_boost_round=cfg.churn.n_estimators,
        valid_sets=[dvalid],
        valid_names=["valid"],
        callbacks=[lgb.early_stopping(cfg.churn.early_stopping_rounds, verbose=False)],
    )
    n_trees = booster.best_iteration or booster.current_iteration()
    booster = trimmed(booster, n_trees)
    valid_raw = booster.predict(x_valid)
    calibrator = Calibrator.fit(
        cfg.calibration, booster.predict(to_matrix(calib, features, levels)), _labels(calib)
    )
    elapsed = time.perf_counter() - started
    fit = ChurnFit(
        booster=booster,
        calibrator=calibrator,
        features=list(features),
        levels=levels,
        n_trees=n_trees,
        params=params,
        fitted_snapshots=split.fit_snapshots,
        horizon=split.horizon,
        valid_auc=float(roc_auc_score(_labels(valid), valid_raw)),
    )
    log.info(
        "churn model: %d trees on %d rows, validation auc %.4f, %s calibration on %d rows (%.1fs)",
        n_trees,
        len(train),
        fit.valid_auc,
        cfg.calibration,
        len(calib),
        elapsed,
    )
    return fit


def refit_churn(rows: pd.DataFrame, evaluated: ChurnFit, cfg: ModelConfig) -> ChurnFit:
    """The model registered for scoring: the same features, parameters and tree count as
    `evaluated`, trained on every row of `rows` (all labelled snapshots), with its calibrator."""
    started = time.perf_counter()
    features = evaluated.features
    levels = category_levels(rows, features)
    dtrain = lgb.Dataset(to_matrix(rows, features, levels), label=_labels(rows), free_raw_data=True)
    booster = lgb.train(evaluated.params, dtrain, num_boost_round=evaluated.n_trees)
    elapsed = time.perf_counter() - started
    log.info(
        "churn model refitted on all %d labelled rows (%s to %s), %d trees (%.1fs)",
        len(rows),
        rows["snapshot"].min().strftime("%Y-%m"),
        rows["snapshot"].max().strftime("%Y-%m"),
        evaluated.n_trees,
        elapsed,
    )
    return ChurnFit(
        booster=booster,
        calibrator=evaluated.calibrator,
        features=list(features),
        levels=levels,
        n_trees=evaluated.n_trees,
        params=evaluated.params,
        fitted_snapshots=tuple(sorted(rows["snapshot"].unique())),
        horizon=evaluated.horizon,
        valid_auc=evaluated.valid_auc,
    )


def importance(fit: ChurnFit) -> pd.Series:
    """Total gain of each feature, largest first."""
    gain = fit.booster.feature_importance(importance_type="gain")
    return pd.Series(gain, index=fit.booster.feature_name(), name="gain").sort_values(ascending=False)
