"""What would lower the risk: each applicable change re-scored with the model."""

from __future__ import annotations

import numpy as np
import pandas as pd

from churnml.scoring.improvements import CHANGES, improvement_effects, neglected_relationship, top_improvements


class Logistic:
    """A stand-in churn model: risk rises with open complaints, months without an executive
    visit and a competitor's price gap."""

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        z = (
            -2.0
            + 0.8 * frame["complaints_open"].fillna(0)
            + 0.1 * frame["months_since_exec_visit"].fillna(24)
            - 5.0 * frame["price_gap_deepest_12m"].fillna(0)
        )
        return 1 / (1 + np.exp(-z.to_numpy(dtype=float)))


FRAME = pd.DataFrame(
    {
        "complaints_open": [2.0, 0.0, 0.0],
        "complaint_oldest_open_days": [90.0, np.nan, np.nan],
        "months_since_exec_visit": [14.0, 0.5, np.nan],
        "exec_visits_12m": [0.0, 3.0, 0.0],
        "business_reviews_12m": [0.0, 0.0, 2.0],
        "joint_development_24m": [0.0, 0.0, 0.0],
        "price_gap_deepest_12m": [np.nan, -0.2, np.nan],
        "on_time_rate_12m": [0.95, 0.95, 0.95],
        "on_time_rate_3m": [0.95, 0.95, 0.70],
    }
)


def test_only_changes_that_apply_are_tried_and_each_lowers_the_models_estimate():
    effects = improvement_effects(FRAME, Logistic())
    tried = {(r.row, r.change) for r in effects.itertuples()}
    assert (0, "resolve_complaints") in tried and (1, "resolve_complaints") not in tried
    assert (0, "executive_visit") in tried  # no executive visit for 14 months, no review, no project
    assert (1, "executive_visit") not in tried  # visited this month already
    assert (2, "executive_visit") not in tried  # never visited, but two business reviews this year
    assert (1, "price_matched") in tried and (0, "price_matched") not in tried
    assert (2, "delivery_back") in tried and (0, "delivery_back") not in tried
    moved = effects[effects["change"] != "delivery_back"]  # the stand-in ignores deliveries
    assert (moved["after"] < moved["before"]).all()


def test_the_top_improvements_read_as_before_and_after():
    effects = improvement_effects(FRAME, Logistic())
    top = top_improvements(effects, len(FRAME))
    assert top[0][0].startswith("resolving the 2 open complaints: ")
    assert top[0][0].endswith("(the model's estimate)") and " → " in top[0][0]
    assert len(top[0]) == 2 and "executive visit" in top[0][1]
    assert top[1] and "matching the competitor's price (20 % below ours)" in top[1][0]
    assert top[2] == [t for t in top[2] if "deliveries" not in t]  # no gain from deliveries here


def test_a_small_gain_never_reads_as_no_change():
    effects = pd.DataFrame({"row": [0, 0], "change": ["a", "b"], "words": ["resolving the 1 open complaint",
                                                                           "an executive visit"],
                            "before": [0.694, 0.694], "after": [0.688, 0.40]})
    (lines,) = top_improvements(effects, 1)
    assert lines == ["an executive visit: 69 % → 40 % (the model's estimate)",
                     "resolving the 1 open complaint: 69.4 % → 68.8 % (the model's estimate)"]


def test_every_change_has_a_name_and_words():
    assert len({c.name for c in CHANGES}) == len(CHANGES) == 4


def test_an_executive_visit_is_suggested_only_where_the_senior_relationship_is_neglected():
    frame = pd.DataFrame(
        {
            "months_since_exec_visit": [np.nan, 13.0, 11.0, np.nan, np.nan, np.nan],
            "business_reviews_12m": [0.0, 0.0, 0.0, 1.0, 0.0, np.nan],
            "joint_development_24m": [0.0, 0.0, 0.0, 0.0, 2.0, np.nan],
        }
    )
    assert neglected_relationship(frame).tolist() == [True, True, False, False, False, True]
