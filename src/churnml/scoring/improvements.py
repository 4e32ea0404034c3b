"""What would lower an account's risk: actionable changes, each re-scored with the churn model.

For the accounts in the riskier bands, each change that applies to the account's state today is
applied to its features and the account scored again; the one or two changes that lower its
churn probability most are its improvements ("resolving the 2 open complaints: 42 % → 27 %
(the model's estimate)"). The model's estimate is what it would predict for an account like
this one with that change, not a promise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pandas as pd

from churnml.scoring.actions import DELIVERY_DROP

MIN_GAIN = 0.005  # a change that lowers the probability by less than half a point is not shown
# An executive visit is suggested where the senior relationship is neglected: no executive visit
# for a year (or never), no business review in the last 12 months and no joint development in
# the last 24. An account with a review cadence or a joint project is not neglected, and a visit
# there changes little whatever a correlational model estimates.
VISIT_GAP_MONTHS = 12


@dataclass(frozen=True)
class Change:
    """One actionable change: its name, whom it applies to, what it does to the features and
    how it reads for one account."""

    name: str
    applies: Callable[[pd.DataFrame], np.ndarray]
    apply: Callable[[pd.DataFrame], pd.DataFrame]
    words: Callable[[pd.Series], str]


def _col(frame: pd.DataFrame, name: str) -> pd.Series:
    if name in frame:
        return pd.to_numeric(frame[name], errors="coerce")
    return pd.Series(np.nan, index=frame.index)


def _set(frame: pd.DataFrame, values: dict[str, Any]) -> pd.DataFrame:
    out = frame.copy()
    for name, value in values.items():
        if name in out:
            out[name] = value(out) if callable(value) else value
    return out


def _resolve_complaints(f: pd.DataFrame) -> pd.DataFrame:
    return _set(f, {"complaints_open": 0.0, "complaint_oldest_open_days": np.nan, "complaint_max_open_severity": np.nan})


def _exec_visit(f: pd.DataFrame) -> pd.DataFrame:
    return _set(
        f,
        {
            "months_since_exec_visit": 0.0,
            "exec_visits_12m": lambda o: _col(o, "exec_visits_12m").fillna(0) + 1,
            "interactions_3m": lambda o: _col(o, "interactions_3m").fillna(0) + 1,
            "interactions_12m": lambda o: _col(o, "interactions_12m").fillna(0) + 1,
        },
    )


def _delivery_back(f: pd.DataFrame) -> pd.DataFrame:
    gap = (_col(f, "on_time_rate_12m") - _col(f, "on_time_rate_3m")).clip(lower=0).fillna(0)
    return _set(
        f,
        {
            "on_time_rate_3m": lambda o: _col(o, "on_time_rate_3m") + gap,
            "on_time_rate_change_3v12": lambda o: (_col(o, "on_time_rate_change_3v12") + gap).clip(upper=0),
            "on_time_rate_vs_region_3m": lambda o: _col(o, "on_time_rate_vs_region_3m") + gap,
        },
    )


def _price_matched(f: pd.DataFrame) -> pd.DataFrame:
    return _set(
        f,
        {
            "price_gap_deepest_12m": lambda o: _col(o, "price_gap_deepest_12m").clip(lower=0),
            "price_gap_latest_12m": lambda o: _col(o, "price_gap_latest_12m").clip(lower=0),
        },
    )


def neglected_relationship(f: pd.DataFrame) -> np.ndarray:
    """Rows whose senior relationship is neglected (see `VISIT_GAP_MONTHS`); a count the data
    do not have (no interactions table) neither proves nor rules out neglect."""
    visited = _col(f, "months_since_exec_visit") < VISIT_GAP_MONTHS
    reviewed = _col(f, "business_reviews_12m").fillna(0) > 0
    developing = _col(f, "joint_development_24m").fillna(0) > 0
    return (~(visited | reviewed | developing)).to_numpy()


def _plural(n: float, one: str, many: str) -> str:
    return one if n == 1 else many


CHANGES = (
    Change(
        "resolve_complaints",
        lambda f: (_col(f, "complaints_open") > 0).to_numpy(),
        _resolve_complaints,
        lambda r: (
            f"resolving the {int(r['complaints_open'])} open "
            f"{_plural(int(r['complaints_open']), 'complaint', 'complaints')}"
        ),
    ),
    Change(
        "executive_visit",
        neglected_relationship,
        _exec_visit,
        lambda r: "an executive visit this month",
    ),
    Change(
        "delivery_back",
        lambda f: (
            (_col(f, "on_time_rate_12m") - _col(f, "on_time_rate_3m") >= DELIVERY_DROP)
        ).to_numpy(),
        _delivery_back,
        lambda r: f"deliveries back to its usual {100 * float(r['on_time_rate_12m']):.0f} % on time",
    ),
    Change(
        "price_matched",
        lambda f: (_col(f, "price_gap_deepest_12m") < 0).to_numpy(),
        _price_matched,
        lambda r: f"matching the competitor's price ({100 * -float(r['price_gap_deepest_12m']):.0f} % below ours)",
    ),
)


def improvement_effects(features: pd.DataFrame, churn_model: Any, changes=CHANGES) -> pd.DataFrame:
    """One row per (account row, applicable change): `row` (position in `features`), `change`,
    `before`, `after` (the model's churn probability with the change) and `words`."""
    if features.empty:
        return pd.DataFrame(columns=["row", "change", "before", "after", "words"])
    before = np.asarray(churn_model.predict_proba(features), dtype="float64")
    parts = []
    for change in changes:
        mask = np.asarray(change.applies(features), dtype=bool)
        if not mask.any():
            continue
        subset = features[mask]
        after = np.asarray(churn_model.predict_proba(change.apply(subset)), dtype="float64")
        rows = np.flatnonzero(mask)
        parts.append(
            pd.DataFrame(
                {
                    "row": rows,
                    "change": change.name,
                    "before": before[rows],
                    "after": after,
                    "words": [change.words(r) for _, r in subset.iterrows()],
                }
            )
        )
    if not parts:
        return pd.DataFrame(columns=["row", "change", "before", "after", "words"])
    return pd.concat(parts, ignore_index=True)


def top_improvements(effects: pd.DataFrame, n_rows: int, n: int = 2) -> list[list[str]]:
    """Per row, the words of the `n` changes that lower its probability most (by at least
    `MIN_GAIN`): "resolving the 2 open complaints: 42 % → 27 % (the model's estimate)"."""
    out: list[list[str]] = [[] for _ in range(n_rows)]
    if effects.empty:
        return out
    gain = effects["before"] - effects["after"]
    useful = effects[gain >= MIN_GAIN].assign(gain=gain[gain >= MIN_GAIN])
    useful = useful.sort_values(["row", "gain", "change"], ascending=[True, False, True], kind="mergesort")
    for row, part in useful.groupby("row", sort=False):
        out[int(row)] = [
            f"{w}: {_from_to(b, a)} (the model's estimate)"
            for w, b, a in zip(part["words"].head(n), part["before"].head(n), part["after"].head(n))
        ]
    return out


def _from_to(before: float, after: float) -> str:
    """'42 % → 27 %'; with one decimal where whole percents would read the same ('69.4 % → 68.8 %')."""
    places = 0 if round(100 * before) != round(100 * after) else 1
    return f"{100 * before:.{places}f} % → {100 * after:.{places}f} %"
