"""A recent-event feature ("a decision maker left 2 months ago") is a reason only while its
event is recent: never "competitor activity 40 months ago" or "no decision maker has left"."""

from __future__ import annotations

import numpy as np
import pandas as pd

from churnml.features.dictionary import FEATURES
from churnml.scoring.reasons import top_reasons

NAMES = ["months_since_decision_maker_left", "months_since_competitor_signal", "complaints_open"]


def _frames(dm_left: float, signal: float):
    features = pd.DataFrame({NAMES[0]: [dm_left], NAMES[1]: [signal], NAMES[2]: [1.0]})
    contribs = pd.DataFrame({NAMES[0]: [0.9], NAMES[1]: [0.5], NAMES[2]: [0.1], "bias": [-2.0]})
    families = {n: FEATURES[n].family for n in NAMES}
    return contribs, features, families


def test_recent_events_are_reasons_in_contribution_order():
    contribs, features, families = _frames(dm_left=2, signal=1)
    reasons = top_reasons(contribs, features, families)[0]
    assert [r.feature for r in reasons] == NAMES
    assert "decision maker left 2 months ago" in reasons[0].text


def test_stale_or_missing_events_are_not_reasons():
    for dm_left, signal in [(40, 30), (np.nan, np.nan), (13, 12.5)]:
        contribs, features, families = _frames(dm_left, signal)
        reasons = top_reasons(contribs, features, families)[0]
        assert [r.feature for r in reasons] == ["complaints_open"], (dm_left, signal)


def test_every_recent_event_feature_is_a_time_since_feature():
    flagged = [f for f in FEATURES.values() if f.recent_within is not None]
    assert {f.name for f in flagged} >= {"months_since_decision_maker_left", "months_since_competitor_signal",
                                         "months_since_peer_leader_lost"}
    assert all(f.unit == "months" and f.name.startswith("months_since") for f in flagged)


def test_a_missing_value_is_a_reason_only_when_missing_is_itself_a_risk():
    names = ["complaint_oldest_open_days", "months_since_exec_visit", "revenue_3m"]
    features = pd.DataFrame({names[0]: [np.nan], names[1]: [np.nan], names[2]: [1000.0]})
    contribs = pd.DataFrame({names[0]: [0.9], names[1]: [0.5], names[2]: [0.1], "bias": [-2.0]})
    families = {n: FEATURES[n].family for n in names}
    reasons = top_reasons(contribs, features, families)[0]
    # "no open complaint" is no reason to act; "no executive visit on record" is.
    assert [r.feature for r in reasons] == ["months_since_exec_visit", "revenue_3m"]
    assert reasons[0].text == "no executive visit on record"
