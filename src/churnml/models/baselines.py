"""The two baselines the churn model has to beat, fitted on the same rows as the model.

- `baseline_rule`: "revenue of the last 3 months below half of the 3 months before". Its score
  is the churn rate observed among flagged and among unflagged rows when it was fitted, so its
  Brier score and calibration error mean something; its ranking is the rule itself.
- `baseline_rfm`: a logistic regression on recency (months since the last order), frequency
  (order lines in 12 months, log) and monetary value (revenue in 12 months, log).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from churnml.errors import ConfigError

# Feature columns the baselines read (names from churnml.features.dictionary).
REVENUE_LAST_3M = "revenue_3m"
REVENUE_LAST_6M = "revenue_6m"
RECENCY = "months_since_last_order"
FREQUENCY = "lines_12m"
MONETARY = "revenue_12m"
# Recency of an account that never ordered in the window: a year and a bit.
_RECENCY_FILL = 13.0


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


@dataclass
class Baselines:
    """Both fitted baselines."""

    rule_rates: tuple[float, float]  # churn rate among (unflagged, flagged) rows
    rfm: Pipeline

    def predict(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        """Churn probabilities of each baseline: `{"baseline_rule": .., "baseline_rfm": ..}`."""
        flag = rule_flag(frame)
        return {
            "baseline_rule": np.where(flag, self.rule_rates[1], self.rule_rates[0]),
            "baseline_rfm": self.rfm.predict_proba(rfm_matrix(frame))[:, 1],
        }


def fit_baselines(rows: pd.DataFrame) -> Baselines:
    """Fit both baselines on labelled rows (`churn` 0/1)."""
    y = rows["churn"].to_numpy(dtype=float)
    flag = rule_flag(rows)
    overall = float(y.mean())
    rates = tuple(float(y[flag == f].mean()) if (flag == f).any() else overall for f in (False, True))
    rfm = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    rfm.fit(rfm_matrix(rows), y.astype(int))
    return Baselines(rule_rates=rates, rfm=rfm)
