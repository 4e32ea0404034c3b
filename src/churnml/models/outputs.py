"""What the models give for one month's accounts, as one frame: the churn probability, the
switch probability at the deepest discount offered, the switching cost, and each feature's
contribution to the churn score (LightGBM `pred_contrib`). The scoring stage computes it in
process or on Spark (`mlflow.pyfunc.spark_udf`); the risk list is built from it either way."""

from __future__ import annotations

import numpy as np
import pandas as pd

CHURN = "churn_probability"
SWITCH = "switch_probability"
COST = "switching_cost"
CONTRIBUTION = "contribution__"  # + a feature's name, or "bias"
# What `predict` returns: `output` "probability" (the default), or "scores" (the frame above).
PARAMS = {"output": "probability"}
SCORES = "scores"


def churn_outputs(probability: np.ndarray, contributions: pd.DataFrame) -> pd.DataFrame:
    """The churn model's part: `churn_probability` and a `contribution__<feature>` column per
    column of `contributions` (features and `bias`), same index as `contributions`."""
    out = contributions.add_prefix(CONTRIBUTION)
    out.insert(0, CHURN, np.asarray(probability, dtype="float64"))
    return out


def switching_outputs(probability: np.ndarray, cost: np.ndarray, index: pd.Index) -> pd.DataFrame:
    """The switching model's part: `switch_probability` (at each row's offered discount) and
    `switching_cost`."""
    return pd.DataFrame({SWITCH: np.asarray(probability, dtype="float64"), COST: np.asarray(cost, dtype="float64")},
                        index=index)


def contributions_of(outputs: pd.DataFrame) -> pd.DataFrame:
    """The contribution columns of `outputs` under the features' names (and `bias`)."""
    columns = [c for c in outputs.columns if c.startswith(CONTRIBUTION)]
    return outputs[columns].rename(columns=lambda c: c[len(CONTRIBUTION):])


def wants_scores(params) -> bool:
    """Whether a `predict` call asks for the scores frame rather than the probability."""
    return (params or {}).get("output", PARAMS["output"]) == SCORES
