"""The MLflow model wrappers: what a registered or exported model carries for scoring.

`ChurnModel` holds the booster and calibrator that score (the procedure fitted on every labelled
snapshot), the feature names and categorical levels, the feature families, the held-out metrics
of its evaluation plan, a training reference distribution for drift (PSI), as `.evaluation` the
model of the plan's first origin (it never saw the held-out rows: what a later run needs to
compare it fairly against a challenger), and as `.ranker` the baseline that ranks the list when
the model did not beat it (the booster still gives the reasons).

Both wrappers take categorical features as text (MLflow signatures cannot describe pandas
categories) and cast them to the levels seen in training.
"""

from __future__ import annotations

from typing import Any, Collection

import mlflow.pyfunc
import numpy as np
import pandas as pd

from churnml.models import outputs
from churnml.models.baselines import Ranker, model_columns
from churnml.models.churn import PROBABILITY_FLOOR, ChurnFit, as_text, booster_predict
from churnml.models.switching import DISCOUNT, SwitchingFit

PSI_BINS = 10
PSI_EPSILON = 1e-4  # share given to an empty bin, so that ln(new / ref) stays finite
# Decile edges closer together than this share of the values they separate (and of the
# reference's spread, its 1st to 99th percentile) are merged: a saturated feature (BG/NBD's
# P(alive), 0.9975 to 0.9985 for most accounts) would otherwise have bins a thousandth wide, and a
# refit that moves its ceiling by that much would read as heavy drift every month. Relative to the
# values, so that the lower deciles of a skewed feature (revenue) keep their bins.
PSI_MIN_BIN_SHARE = 0.01
REFERENCE_SNAPSHOTS = 3  # the latest labelled snapshots the drift reference is taken from
_MISSING = "__missing__"


# ----------------------------------------------------------------------------------------------
# Training reference for drift
# ----------------------------------------------------------------------------------------------
#
# Why the reference and the bins are built this way: PSI against every training
# snapshot pooled compares this month with years of history, including early snapshots whose
# 12-month windows were still missing, and warned on half the features of an unchanged world.
# The reference is therefore the latest `REFERENCE_SNAPSHOTS` labelled snapshots: like compared
# with like. Bins are the reference deciles made unique, and a value that alone holds at least
# one bin's worth of the reference (0 complaints, an on-time rate of 1.0) is a bin of its own, so
# ties never pile most of the mass into one wide bin. Missing values are one more bin on both
# sides. Features with one value per group and snapshot (the peer rates of an industry) are not
# checked: with a handful of industries their distribution at one snapshot is a few spikes that
# move whenever one industry's rate does, so PSI would measure noise, not drift.


def psi_edges(values: np.ndarray, bins: int = PSI_BINS) -> np.ndarray:
    """Inner bin edges for PSI from reference `values` (NaN ignored): the unique quantiles at
    1/bins … (bins-1)/bins, none within `PSI_MIN_BIN_SHARE` (of the values, at most of their
    spread) of the edge below it or of the largest value, plus [v, v+) around every value v
    holding at least 1/bins of them.
    A value x falls in bin `searchsorted(edges, x, side="right")`."""
    values = np.asarray(values, dtype=float)
    present = values[~np.isnan(values)]
    if not len(present):
        return np.array([])
    low, high = np.quantile(present, [0.01, 0.99])
    edges: set[float] = set()
    below, top = float(present.min()), float(present.max())

    def apart(a: float, b: float) -> bool:
        return b - a > PSI_MIN_BIN_SHARE * min(high - low, max(abs(a), abs(b)))

    for q in np.quantile(present, np.linspace(0, 1, bins + 1)[1:-1]):
        if apart(below, q) and apart(q, top):
            edges.add(float(q))
            below = float(q)
    levels, counts = np.unique(present, return_counts=True)
    for v in levels[counts >= len(present) / bins]:
        edges.update((float(v), float(np.nextafter(v, np.inf))))
    return np.array(sorted(edges))


def training_reference(
    frame: pd.DataFrame,
    features: list[str],
    levels: dict[str, list[str]],
    *,
    recent: int | None = None,
    group_level: Collection[str] = (),
) -> dict:
    """Per feature, the training distribution that PSI compares against.

    numeric: `{"kind": "numeric", "edges": inner bin edges (`psi_edges`), "proportions": share
    per bin, then the share missing}`; categorical: `{"kind": "categorical", "proportions":
    {level: share, "__missing__": share}}`; features in `group_level`: `{"kind": "group"}` (not
    checked). `recent`: only the latest `recent` snapshots of `frame` (its `snapshot` column)."""
    if recent is not None and "snapshot" in frame and len(frame):
        latest = np.sort(frame["snapshot"].unique())[-recent:]
        frame = frame[frame["snapshot"].isin(latest)]
    out: dict[str, dict] = {}
    for c in features:
        col = frame[c]
        if c in group_level:
            out[c] = {"kind": "group"}
        elif c in levels:
            text = col.astype(object).where(col.notna(), _MISSING).map(str)
            shares = text.value_counts(normalize=True)
            out[c] = {"kind": "categorical", "proportions": {k: float(v) for k, v in shares.items()}}
        else:
            values = pd.to_numeric(col, errors="coerce").to_numpy(dtype=float)
            edges = psi_edges(values)
            out[c] = {
                "kind": "numeric",
                "edges": [float(e) for e in edges],
                "proportions": _numeric_shares(values, edges),
            }
    return out


def _numeric_shares(values: np.ndarray, edges) -> list[float]:
    """Share of `values` in each bin of `edges`, then the share missing."""
    values = np.asarray(values, dtype=float)
    missing = np.isnan(values)
    bins = np.searchsorted(np.asarray(edges, dtype=float), values[~missing], side="right")
    counts = np.bincount(bins, minlength=len(edges) + 1).astype(float)
    counts = np.append(counts, missing.sum())
    return [float(c) for c in counts / max(len(values), 1)]


def psi(expected, actual, epsilon: float = PSI_EPSILON) -> float:
    """Population stability index Σ (actual − expected) · ln(actual / expected) over bins, each
    share raised to at least `epsilon` (an empty bin)."""
    e = np.clip(np.asarray(expected, dtype=float), epsilon, None)
    a = np.clip(np.asarray(actual, dtype=float), epsilon, None)
    return float(((a - e) * np.log(a / e)).sum())


def population_stability(reference: dict, frame: pd.DataFrame, floor: float = PSI_EPSILON) -> pd.Series:
    """PSI of each feature of `frame` against the training `reference` (see `psi`; `floor` is
    its epsilon); NaN for features that are not checked (group-level)."""
    out = {}
    for c, ref in reference.items():
        if c not in frame.columns:
            continue
        if ref["kind"] == "numeric":
            values = pd.to_numeric(frame[c], errors="coerce").to_numpy(dtype=float)
            expected = np.asarray(ref["proportions"])
            actual = np.asarray(_numeric_shares(values, ref["edges"]))
        elif ref["kind"] == "categorical":
            text = frame[c].astype(object).where(frame[c].notna(), _MISSING).map(str)
            shares = text.value_counts(normalize=True)
            keys = sorted(set(ref["proportions"]) | set(shares.index))
            expected = np.array([ref["proportions"].get(k, 0.0) for k in keys])
            actual = np.array([float(shares.get(k, 0.0)) for k in keys])
        else:
            out[c] = np.nan
            continue
        out[c] = psi(expected, actual, floor)
    return pd.Series(out, name="psi", dtype=float)


def as_text_input(frame: pd.DataFrame, features: list[str], levels: dict[str, list[str]]) -> pd.DataFrame:
    """Feature columns only, categoricals as text: the form the MLflow signature describes."""
    out = frame[features].copy()
    for c in levels:
        out[c] = as_text(out[c])
    return out


# ----------------------------------------------------------------------------------------------
# The wrappers
# ----------------------------------------------------------------------------------------------


class ChurnModel(mlflow.pyfunc.PythonModel):
    """The registered churn model. `predict` returns the calibrated churn probability, or with
    `params={"output": "scores"}` the probability and the contributions
    (`churnml.models.outputs.churn_outputs`)."""

    PARAMS = outputs.PARAMS  # the parameters of `predict`, for the signature

    def __init__(
        self,
        fit: ChurnFit,
        evaluation: ChurnFit,
        metrics: dict[str, float],
        families: dict[str, str],
        reference: dict,
        info: dict[str, Any],
        ranker: Ranker | None = None,
        origin_fits: list[ChurnFit] | None = None,
    ):
        self.fit = fit
        self.ranker = ranker  # the baseline that ranks the list, when the model did not beat it
        # the model of each origin of the plan (the first is `evaluation`): its evaluation again
        self.origin_fits = list(origin_fits) if origin_fits else [evaluation]
        self.evaluation = evaluation  # fitted before the held-out snapshots, for the champion gate
        self.metrics = dict(metrics)  # out-of-time figures of the evaluation (oot/auc, …)
        self.families = dict(families)  # feature -> family
        self.reference = reference  # training distribution per feature (PSI)
        self.info = dict(info)  # trained_at, test snapshots, data fingerprint, …

    @property
    def features(self) -> list[str]:
        """The columns the model reads: the booster's features, then those only the ranker reads."""
        # models saved before rankers existed have none
        return model_columns(list(self.fit.features), getattr(self, "ranker", None))

    @property
    def levels(self) -> dict[str, list[str]]:
        return dict(self.fit.levels)

    @property
    def ranked_by(self) -> str:
        """"model", or the name of the baseline that ranks the list."""
        return "model" if getattr(self, "ranker", None) is None else self.ranker.name

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Churn probability of each row: the ranker's when a baseline ranks, else the
        calibrated booster's."""
        if getattr(self, "ranker", None) is not None:
            return np.clip(self.ranker.predict_proba(frame), PROBABILITY_FLOOR, 1.0 - PROBABILITY_FLOOR)
        return self.fit.predict_proba(frame)

    def contributions(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Per-row SHAP contributions (LightGBM `pred_contrib`, log-odds of the raw booster):
        columns = features + `bias`, same index as `frame`."""
        values = booster_predict(self.fit.booster, self.fit.matrix(frame), pred_contrib=True)
        return pd.DataFrame(values, columns=[*self.fit.features, "bias"], index=frame.index)

    def population_stability(self, frame: pd.DataFrame) -> pd.Series:
        """PSI of every feature of `frame` against this model's training data."""
        return population_stability(self.reference, frame)

    def predict(self, context, model_input: pd.DataFrame, params=None):  # noqa: ARG002 - MLflow's signature
        frame = pd.DataFrame(model_input)
        if outputs.wants_scores(params):
            return outputs.churn_outputs(self.predict_proba(frame), self.contributions(frame))
        return self.predict_proba(frame)


class SwitchingModel(mlflow.pyfunc.PythonModel):
    """The registered switching-cost model. `predict` takes the account features plus
    `offer_discount` and returns the probability of switching within H months, or with
    `params={"output": "scores"}` that probability and the switching cost
    (`churnml.models.outputs.switching_outputs`)."""

    PARAMS = outputs.PARAMS

    def __init__(self, fit: SwitchingFit, metrics: dict[str, float], info: dict[str, Any]):
        self.fit = fit
        self.metrics = dict(metrics)
        self.info = dict(info)

    @property
    def features(self) -> list[str]:
        return list(self.fit.features)

    @property
    def max_discount(self) -> float:
        return self.fit.max_discount

    def switch_probability(self, frame: pd.DataFrame, discount) -> np.ndarray:
        """Probability of switching if offered `discount` (fraction; a number or one per row)."""
        return self.fit.switch_probability(frame, discount)

    def switching_cost(self, frame: pd.DataFrame) -> pd.Series:
        """Smallest discount (fraction, e.g. 0.085) at which the probability reaches 0.5;
        `inf` when above the largest discount seen in training."""
        return self.fit.switching_cost(frame)

    def predict(self, context, model_input: pd.DataFrame, params=None):  # noqa: ARG002 - MLflow's signature
        frame = pd.DataFrame(model_input)
        probability = self.switch_probability(frame, frame[DISCOUNT].to_numpy(dtype=float))
        if outputs.wants_scores(params):
            return outputs.switching_outputs(probability, self.switching_cost(frame).to_numpy(), frame.index)
        return probability
