"""The rolling-origin backtest: origins, no leakage, summaries for every scorer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churnml.config import ModelConfig
from churnml.evaluate import backtest_metrics
from churnml.models.churn import training_rows
from churnml.models.evaluation import backtest
from helpers.churn_frames import FEATURES, feature_frame


@pytest.fixture(scope="module")
def folds():
    frame, _, _ = feature_frame(n_accounts=200, n_snapshots=30, seed=2)
    cfg = ModelConfig(backtest_folds=3, num_threads=1)
    cfg.churn.n_estimators = 150

    def oracle(rows: pd.DataFrame) -> np.ndarray:
        # Any function of the held-out rows will do; this one knows the answer.
        return rows["churn"].to_numpy() * 0.8 + 0.1

    return frame, backtest(frame, FEATURES, cfg, 6, oracle)


def test_origins_are_the_last_labelled_snapshots_and_fits_end_before_them(folds):
    frame, result = folds
    labelled = sorted(training_rows(frame)["snapshot"].unique())
    assert sorted(result["origin"].unique()) == labelled[-3:]
    for row in result.itertuples():
        assert row.train_to + pd.DateOffset(months=6) <= row.origin
    assert set(result["scorer"]) == {"model", "baseline_rule", "baseline_rfm", "baseline_recency", "oracle"}


def test_summary_has_mean_and_spread_for_every_scorer(folds):
    _, result = folds
    metrics = backtest_metrics(result)
    model = result[result["scorer"] == "model"]
    assert metrics["backtest/auc_mean"] == pytest.approx(model["auc"].mean())
    assert metrics["backtest/auc_std"] == pytest.approx(model["auc"].std(ddof=0))
    assert "baseline_rfm/backtest/revenue_capture_10_mean" in metrics
    assert metrics["oracle/backtest/auc_mean"] == pytest.approx(1.0)
    assert metrics["backtest/auc_vs_oracle_mean"] == pytest.approx(model["auc"].mean())
    assert metrics["backtest/origins"] == 3
