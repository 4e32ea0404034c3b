"""Scoring on Spark needs a model whose signature takes `params` (saved by this release): an
older model gets one clear `NoModelError` (exit 3) before Spark is asked for anything."""

from __future__ import annotations

from pathlib import Path

import mlflow.pyfunc
import pandas as pd
import pytest
from mlflow.models import infer_signature

from churnml import tracking
from churnml.errors import EXIT_NO_MODEL, NoModelError


class _Old(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):  # noqa: ARG002 - MLflow's signature
        return model_input["x"].to_numpy()


def test_a_model_saved_without_params_is_refused_for_spark_scoring(tmp_path: Path):
    example = pd.DataFrame({"x": [0.1, 0.2]})
    target = tmp_path / "old"
    mlflow.pyfunc.save_model(str(target), python_model=_Old(), signature=infer_signature(example, example["x"]))
    with pytest.raises(NoModelError, match="saved before churnml scored on Spark.*train it again") as caught:
        tracking.spark_udf(None, str(target), "churn_probability double", {"output": "scores"})
    assert caught.value.exit_code == EXIT_NO_MODEL
