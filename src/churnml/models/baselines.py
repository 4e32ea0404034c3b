"""The baselines the churn model has to beat, fitted on the same rows as the model.

- `baseline_rule`: "revenue of the last 3 months below half of the 3 months before". Its score
  is the churn rate observed among flagged and among unflagged rows when it was fitted, so its
  Brier score and calibration error mean something; its ranking is the rule itself.
- `baseline_rfm`: a logistic regression on recency (months since the last order), frequency
  (order lines in 12 months, log) and monetary value (revenue in 12 months, log).
- `baseline_recency`: recency alone (months since the last order), as a logistic regression.
- `baseline_bgnbd`: the standard model of a non-contractual customer base. BG/NBD's P(alive) and
  its expected order days over the horizon (absolute and against the account's own pace), fitted
  point in time at each snapshot (`churnml.features.bgnbd`), turned into a churn probability by
  a logistic regression. Skipped when the data has no such columns (features excluded).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from churnml.errors import ConfigError
from churnml.models.sample import row_weights

# Feature columns the baselines read (names from churnml.features.dictionary).
REVENUE_LAST_3M = "revenue_3m"
REVENUE_LAST_6M = "revenue_6m"
RECENCY = "months_since_last_order"
FREQUENCY = "lines_12m"
MONETARY = "revenue_12m"
P_ALIVE = "bgnbd_p_alive"
EXPECTED = "bgnbd_expected_order_days"
EXPECTED_VS_PACE = "bgnbd_expected_vs_pace"
# Recency of an account that never ordered in the window: a year and a bit.
_RECENCY_FILL = 13.0
NAMES = ("baseline_rule", "baseline_rfm", "baseline_recency", "baseline_bgnbd")


def _need(frame: pd.DataFrame, columns: list[str], who: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ConfigError(f"the {who} baseline needs the feature columns {missing}; the data has none")


def rule_flag(frame: pd.DataFrame) -> np.ndarray:
    """True where revenue of the last 3 months is below half of the 3 months before."""
    _need(frame, [REVENUE_LAST_3M, REVENUE_LAST_6M], "rule")
    last = frame[REVENUE_LAST_3M].to_numpy(dtype=float)
    before = frame[REVENUE_LAST_6M].to_numpy(dtype=float) - last
    return np.nan_to_num(last) < 0.5 * np.nan_to_num(before)


def rfm_matrix(frame: pd.DataFrame) -> np.ndarray:
    """Recency, log frequency and log monetary value as a numeric matrix."""
    _need(frame, [RECENCY, FREQUENCY, MONETARY], "RFM")
    recency = frame[RECENCY].to_numpy(dtype=float)
    frequency = frame[FREQUENCY].to_numpy(dtype=float)
    monetary = frame[MONETARY].to_numpy(dtype=float)
    return np.column_stack(
        [
            np.where(np.isnan(recency), _RECENCY_FILL, recency),
            np.log1p(np.clip(np.nan_to_num(frequency), 0, None)),
            np.log1p(np.clip(np.nan_to_num(monetary), 0, None)),
        ]
    )


def recency_matrix(frame: pd.DataFrame) -> np.ndarray:
    """Months since the last order as a one-column matrix."""
    return rfm_matrix(frame)[:, :1]


def bgnbd_matrix(frame: pd.DataFrame) -> np.ndarray:
    """Logit of P(alive), log expected order days and log expected against the pace."""
    _need(frame, [P_ALIVE, EXPECTED, EXPECTED_VS_PACE], "BG/NBD")
    p = np.clip(np.nan_to_num(frame[P_ALIVE].to_numpy(dtype=float), nan=0.0), 1e-6, 1 - 1e-6)
    expected = np.clip(np.nan_to_num(frame[EXPECTED].to_numpy(dtype=float), nan=0.0), 0, None)
    vs_pace = np.clip(np.nan_to_num(frame[EXPECTED_VS_PACE].to_numpy(dtype=float), nan=0.0), 0, None)
    return np.column_stack([np.log(p / (1 - p)), np.log1p(expected), np.log1p(vs_pace)])


# The feature columns each baseline reads.
COLUMNS = {
    "baseline_rule": [REVENUE_LAST_3M, REVENUE_LAST_6M],
    "baseline_rfm": [RECENCY, FREQUENCY, MONETARY],
    "baseline_recency": [RECENCY, FREQUENCY, MONETARY],  # recency_matrix reads the RFM columns
    "baseline_bgnbd": [P_ALIVE, EXPECTED, EXPECTED_VS_PACE],
}
# How each baseline is named to people (the page, the workbook, the console).
WORDS = {
    "baseline_rule": "the rule \"revenue of the last 3 months below half of the 3 months before\"",
    "baseline_rfm": "the RFM baseline (a logistic regression on recency, frequency and revenue)",
    "baseline_recency": "the recency baseline (months since the last order)",
    "baseline_bgnbd": "the BG/NBD baseline (the standard buy-till-you-die model of a customer base)",
}

_MATRICES = {"baseline_rfm": rfm_matrix, "baseline_recency": recency_matrix, "baseline_bgnbd": bgnbd_matrix}


@dataclass
class Baselines:
    """The fitted baselines."""

    rule_rates: tuple[float, float]  # churn rate among (unflagged, flagged) rows
    regressions: dict[str, Pipeline]  # name -> logistic regression on its matrix

    def predict(self, frame: pd.DataFrame, only: str | None = None) -> dict[str, np.ndarray]:
        """Churn probabilities of each baseline (or of `only` that one): `{"baseline_rule": ..,
        "baseline_rfm": .., …}`."""
        out = {}
        if only in (None, "baseline_rule"):
            out["baseline_rule"] = np.where(rule_flag(frame), self.rule_rates[1], self.rule_rates[0])
        for name, model in self.regressions.items():
            if only in (None, name):
                out[name] = model.predict_proba(_MATRICES[name](frame))[:, 1]
        return out


def fit_baselines(rows: pd.DataFrame) -> Baselines:
    """Fit every baseline whose columns `rows` has, on labelled rows (`churn` 0/1)."""
    y = rows["churn"].to_numpy(dtype=float)
    weight = row_weights(rows)
    w = np.ones(len(y)) if weight is None else weight
    flag = rule_flag(rows)
    overall = float(np.average(y, weights=w)) if weight is not None else float(y.mean())
    rates = tuple(
        (float(np.average(y[flag == f], weights=w[flag == f])) if weight is not None else float(y[flag == f].mean()))
        if (flag == f).any() else overall
        for f in (False, True)
    )
    regressions = {}
    for name, matrix in _MATRICES.items():
        if name == "baseline_bgnbd" and not {P_ALIVE, EXPECTED, EXPECTED_VS_PACE} <= set(rows.columns):
            continue
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
        model.fit(matrix(rows), y.astype(int), logisticregression__sample_weight=weight)
        regressions[name] = model
    return Baselines(rule_rates=rates, regressions=regressions)


@dataclass
class Ranker:
    """A baseline that ranks the list because the model did not beat it beyond the noise:
    fitted on every labelled row, as the model that scores is."""

    name: str  # one of NAMES
    baselines: Baselines

    @property
    def columns(self) -> list[str]:
        return list(COLUMNS[self.name])

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """The baseline's churn probability of each row of `frame`."""
        return np.asarray(self.baselines.predict(frame, only=self.name)[self.name], dtype=float)


def model_columns(features: list[str], ranker: Ranker | None) -> list[str]:
    """The columns a churn model reads: its features, then those of the baseline that ranks (if
    any) that are not among them."""
    extra = [] if ranker is None else [c for c in ranker.columns if c not in features]
    return [*features, *extra]
