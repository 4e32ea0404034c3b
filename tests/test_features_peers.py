"""Peers without leakage: a loss counts for the industry once it is observable, not when the
lost account's label window later says it churned."""

from __future__ import annotations

import numpy as np
import pandas as pd

from churnml.config import FeaturesConfig, LabelsConfig
from churnml.features import build_features
from helpers.features_tables import monthly, tables


def _world(outcomes: list[dict] | None = None) -> dict[str, pd.DataFrame]:
    orders = (
        monthly("LEADER", "2021-01", [1000.0] * 12)  # last order 2021-12-15
        + monthly("FOLLOWER", "2021-01", [500.0] * 36)
        + monthly("OTHER", "2021-01", [500.0] * 36)
        + monthly("ELSEWHERE", "2021-01", [700.0] * 36)
    )
    world = tables(
        accounts=[
            {"account_id": "LEADER", "industry": "metals", "influence": 0.9},
            {"account_id": "FOLLOWER", "industry": "metals", "influence": 0.1},
            {"account_id": "OTHER", "industry": "metals", "influence": 0.2},
            {"account_id": "ELSEWHERE", "industry": "food", "influence": 0.95},
        ],
        orders=orders,
        outcomes=outcomes or [],
    )
    return world


def _peers(world, snapshots) -> pd.DataFrame:
    frame = build_features(world, FeaturesConfig(), LabelsConfig(), snapshots=snapshots)
    return frame.set_index(["snapshot", "account_id"])


def test_a_quiet_account_counts_as_lost_once_the_lost_window_shows_it():
    frame = _peers(_world(), ["2022-01-01", "2022-03-01", "2022-04-01", "2022-09-01", "2022-10-01", "2023-05-01"])
    # its label at 2022-01 already says churn, but nothing about it is observable yet
    assert frame.at[(pd.Timestamp("2022-01-01"), "LEADER"), "churn"] == 1.0
    for t in ("2022-01-01", "2022-03-01"):
        row = frame.loc[(pd.Timestamp(t), "FOLLOWER")]
        assert row["peer_churn_rate_12m"] == 0.0 and row["peer_leader_lost_6m"] == 0.0, t
    # three quiet months (2022-01..03) make the loss observable at 2022-04-01
    row = frame.loc[(pd.Timestamp("2022-04-01"), "FOLLOWER")]
    assert row["peer_churn_rate_12m"] == 0.5  # LEADER lost, OTHER still there: 1 of 2 peers
    assert row["peer_leader_lost_6m"] == 1.0
    # the leader effect fades after 6 months, the rate after 12
    assert frame.loc[(pd.Timestamp("2022-09-01"), "FOLLOWER"), "peer_leader_lost_6m"] == 1.0  # 5 months
    later = frame.loc[(pd.Timestamp("2022-10-01"), "FOLLOWER")]  # 6 months: no longer recent
    assert later["peer_leader_lost_6m"] == 0.0 and later["peer_churn_rate_12m"] == 0.5
    assert frame.loc[(pd.Timestamp("2023-05-01"), "FOLLOWER"), "peer_churn_rate_12m"] == 0.0
    # other industries are not peers; an account is not its own peer
    assert frame.loc[(pd.Timestamp("2022-04-01"), "ELSEWHERE"), "peer_leader_lost_6m"] == 0.0
    assert np.isnan(frame.loc[(pd.Timestamp("2022-04-01"), "ELSEWHERE"), "peer_churn_rate_12m"])


def test_a_recorded_loss_counts_from_the_month_after_it():
    world = _world([{"account_id": "OTHER", "lost_at": "2022-02-15", "reason": "competitor"}])
    frame = _peers(world, ["2022-02-01", "2022-03-01"])
    before = frame.loc[(pd.Timestamp("2022-02-01"), "FOLLOWER")]
    after = frame.loc[(pd.Timestamp("2022-03-01"), "FOLLOWER")]
    assert before["peer_switch_rate_12m"] == 0.0
    assert after["peer_switch_rate_12m"] == 0.5 and after["peer_churn_rate_12m"] == 0.5
