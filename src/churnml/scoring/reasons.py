"""Reasons: which feature families push an account's churn probability up, in plain words."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Callable, Collection

import numpy as np
import pandas as pd

from churnml.features.dictionary import FEATURES
from churnml.features.dictionary import format_reason as dictionary_reason

REASON_SEP = "; "  # between the reasons of one account in the list's text columns
# A condition that holds for more than this share of the listed accounts is no news about one.
MAX_REASON_SHARE = 0.25

@dataclass(frozen=True)
class Reason:
    """One reason of one account: the feature behind it, its family, its contribution, its words."""

    feature: str
    family: str
    contribution: float
    text: str


def rank_reasons(
    contribs: pd.DataFrame, families: Mapping[str, str], n: int = 3
) -> list[list[tuple[str, str, float]]]:
    """For each row, up to `n` (feature, family, family contribution) triples, most risky first.

    Contributions are grouped by feature family; a family is a reason when its summed
    contribution is positive, and it is represented by its feature with the largest positive
    contribution. Families are ordered by their summed contribution (ties: family name, then
    feature name), so three different kinds of reason are given rather than three views of one.
    """
    frame = contribs.drop(columns=["bias"], errors="ignore")
    features = sorted(frame.columns)
    missing = [f for f in features if f not in families]
    if missing:
        raise ValueError(f"no family for feature(s) {missing[:5]}: add them to the feature dictionary")
    fams = sorted({families[f] for f in features})
    values = frame[features].to_numpy(dtype="float64", na_value=0.0)
    n_rows = len(frame)
    fam_sum = np.zeros((n_rows, len(fams)))
    top_val = np.full((n_rows, len(fams)), -np.inf)
    top_idx = np.zeros((n_rows, len(fams)), dtype=np.int64)
    for j, fam in enumerate(fams):
        cols = [i for i, f in enumerate(features) if families[f] == fam]  # name order
        block = values[:, cols]
        fam_sum[:, j] = block.sum(axis=1)
        best = block.argmax(axis=1)  # first maximum = alphabetical tie-break
        top_idx[:, j] = np.asarray(cols)[best]
        top_val[:, j] = block[np.arange(n_rows), best]
    eligible = (fam_sum > 0) & (top_val > 0)
    score = np.where(eligible, fam_sum, -np.inf)
    order = np.argsort(-score, axis=1, kind="stable")[:, :n]  # stable: ties keep family name order
    rows = np.arange(n_rows)[:, None]
    keep = eligible[rows, order].tolist()
    feat = top_idx[rows, order].tolist()
    sums = fam_sum[rows, order].tolist()
    order = order.tolist()
    # Eligible families come first in `order`, so each row's reasons are a prefix of it.
    return [
        [(features[f], fams[j], c) for ok, f, j, c in zip(k, fi, oi, si) if ok]
        for k, fi, oi, si in zip(keep, feat, order, sums)
    ]


class RowView(Mapping):
    """One row of a frame as a read-only mapping, without building a pandas Series."""

    __slots__ = ("_columns", "_i")

    def __init__(self, columns: dict[str, np.ndarray], i: int):
        self._columns = columns
        self._i = i

    def __getitem__(self, key: str) -> Any:
        return self._columns[key][self._i]

    def __contains__(self, key: object) -> bool:
        return key in self._columns

    def __iter__(self):
        return iter(self._columns)

    def __len__(self) -> int:
        return len(self._columns)


def descriptors(features: Collection[str]) -> list[str]:
    """The features among `features` that the dictionary marks as account descriptors (not
    `actionable`: size, category spend, industry, region, tier, influence, tenure)."""
    return [f for f in features if f in FEATURES and not FEATURES[f].actionable]


def top_reasons(
    contribs: pd.DataFrame,
    features: pd.DataFrame,
    families: Mapping[str, str],
    n: int = 3,
    format_reason: Callable[..., str] | None = None,
    hidden: Collection[str] | None = None,
    max_share: float | None = None,
) -> list[list[Reason]]:
    """The top `n` reasons of each row of `contribs` (LightGBM pred_contrib, one column per feature
    plus `bias`), in plain words with the account's own values from the same row of `features`.

    Only families and features that push the risk up are reasons; see `rank_reasons` for the order.
    Features in `hidden` (default: the dictionary's account descriptors) are never reasons and
    do not count in their family's sum: they describe who the account is, not why it is at risk
    now, though they still count in its probability. With `max_share`, a feature is a reason of a
    row only where its value is specific among the rows (`specific_only`). `format_reason(name,
    value, row)` defaults to the feature dictionary's."""
    if len(contribs) != len(features):
        raise ValueError(f"contributions have {len(contribs)} rows, features {len(features)}")
    fmt = format_reason or dictionary_reason
    hidden = descriptors(contribs.columns) if hidden is None else hidden
    contribs = contribs.drop(columns=[c for c in hidden if c in contribs.columns])
    contribs = without_non_reasons(contribs, features)
    if max_share is not None:
        contribs = specific_only(contribs, features, max_share)
    ranked = rank_reasons(contribs, families, n)
    columns = {str(c): features[c].to_numpy(dtype=object) for c in features.columns}
    out: list[list[Reason]] = []
    for i, row_reasons in enumerate(ranked):
        row = RowView(columns, i)
        out.append([Reason(f, fam, c, fmt(f, row[f] if f in row else None, row)) for f, fam, c in row_reasons])
    return out


def without_non_reasons(contribs: pd.DataFrame, features: pd.DataFrame) -> pd.DataFrame:
    """`contribs` with 0 where a feature's value is no reason to act, though it moves the
    probability: a recent-event feature (`Feature.recent_within`) whose event is missing or older
    than that, and a missing value that is not itself a risk (`Feature.missing_is_risk`)."""
    out = contribs
    for name in contribs.columns:
        spec = FEATURES.get(name)
        if spec is None or spec.kind != "numeric" or name not in features.columns:
            continue
        values = pd.to_numeric(features[name], errors="coerce").to_numpy()
        drop = np.isnan(values) & (not spec.missing_is_risk)
        if spec.recent_within is not None:
            drop |= ~(values <= spec.recent_within)  # NaN (no event) is no recent event
        if drop.any():
            out = out.copy() if out is contribs else out
            out.loc[drop, name] = 0.0
    return out


def condition_share(values: pd.Series, contributions: pd.Series) -> np.ndarray:
    """Per row, the share of all rows whose value of this feature is at least as risky as the
    row's own: as large or larger when the feature's contribution rises with its value (else as
    small or smaller), the same category, or missing too."""
    n = len(values)
    if n == 0:
        return np.zeros(0)
    if not pd.api.types.is_numeric_dtype(values):
        text = values.astype("object").where(values.notna(), None)
        counts = text.map(text.value_counts(dropna=False))
        return (counts.fillna(text.isna().sum()).to_numpy(dtype="float64")) / n
    x = pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64")
    missing = np.isnan(x)
    known = np.sort(x[~missing])
    c = contributions.to_numpy(dtype="float64")
    both = ~missing & ~np.isnan(c)
    rises = True  # without evidence either way, a higher value is the riskier one
    if both.sum() > 2 and np.ptp(x[both]) > 0 and np.ptp(c[both]) > 0:
        rises = not pd.Series(x[both]).corr(pd.Series(c[both]), method="spearman") < 0
    if rises:
        at_least = len(known) - np.searchsorted(known, x, side="left")
    else:
        at_least = np.searchsorted(known, x, side="right")
    share = at_least / n
    share[missing] = missing.sum() / n
    return share


def specific_only(contribs: pd.DataFrame, features: pd.DataFrame, max_share: float = MAX_REASON_SHARE) -> pd.DataFrame:
    """`contribs` with 0 where the row's value of a feature is shared by more than `max_share`
    of the rows (a standing fact about most accounts, such as no joint development on record, is
    no reason to call one of them): so no feature is the reason of many more than `max_share`
    of the rows."""
    values = contribs.to_numpy(dtype="float64", copy=True)
    rows = features.reset_index(drop=True)
    for j, name in enumerate(contribs.columns):
        if name == "bias" or name not in rows.columns or not (values[:, j] > 0).any():
            continue
        share = condition_share(rows[name], pd.Series(values[:, j]))
        values[share > max_share, j] = 0.0
    return pd.DataFrame(values, index=contribs.index, columns=contribs.columns)


PEERS = "peers"  # the family of industry-level facts


def with_own_risk(reasons: list[Reason]) -> list[Reason]:
    """An account's reasons without the industry-level ones when it shows no risk of its own:
    that its industry loses accounts is news about this account only beside its own signals."""
    if all(r.family == PEERS for r in reasons):
        return []
    return reasons

