"""Training on a sample of a panel too large for the driver (`model.sample.negative_rate`).

Which rows are kept, each with the inverse of its chance of being kept as its `weight`
(Horvitz-Thompson), so that a weighted fit sees the population's churn rate and its
probabilities stay calibrated:
- every churner, every row with a competitor offer (the switching model learns from those), and
  every row of the snapshots the model is judged on, compared on and measured against (the test,
  the drift reference and the newest snapshot): weight 1;
- a share `negative_rate` of the other labelled rows that did not churn, chosen by a hash of
  account, snapshot and seed (the same rows every run): weight 1 / `negative_rate`;
- no other unlabelled row (nothing learns from them).
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
import pandas as pd

from churnml.features.dictionary import WEIGHTS

WEIGHT = WEIGHTS[0]
_HASH_RANGE = 1_000_000


def row_weights(part: pd.DataFrame) -> np.ndarray | None:
    """The rows' weights when they are a sample's, else None (every row counts once)."""
    return part[WEIGHT].to_numpy(dtype=float) if WEIGHT in part else None


def _drawn(frame: pd.DataFrame, rate: float, seed: int) -> np.ndarray:
    """True for about `rate` of the rows, fixed by (account_id, snapshot) and `seed`."""
    keys = pd.DataFrame({"account_id": frame["account_id"].astype(str),
                         "snapshot": pd.to_datetime(frame["snapshot"]).astype("datetime64[ns]")})
    hashed = pd.util.hash_pandas_object(keys, index=False, hash_key=f"churnml{int(seed):09d}"[-16:])
    return (hashed.to_numpy() % np.uint64(_HASH_RANGE)) < int(round(rate * _HASH_RANGE))


def _certain(frame: pd.DataFrame, whole: Collection[pd.Timestamp], offers: pd.DataFrame | None) -> np.ndarray:
    """Rows kept whatever the rate: churners, rows of the `whole` snapshots, labelled rows with
    an offer."""
    churned = (frame["churn"] == 1).fillna(False).to_numpy(dtype=bool)
    at_whole = frame["snapshot"].isin(list(whole)).to_numpy()
    offered = np.zeros(len(frame), dtype=bool)
    if offers is not None and len(offers):
        keys = pd.MultiIndex.from_frame(offers[["account_id", "snapshot"]].astype({"account_id": str}))
        mine = pd.MultiIndex.from_arrays([frame["account_id"].astype(str), frame["snapshot"]])
        offered = mine.isin(keys) & frame["labelled"].astype(bool).to_numpy()
    return churned | at_whole | offered


def keep_mask(frame: pd.DataFrame, rate: float, seed: int, whole: Collection[pd.Timestamp],
              offers: pd.DataFrame | None = None) -> np.ndarray:
    """Which rows of `frame` (account_id, snapshot, labelled, churn) the sample keeps."""
    labelled = frame["labelled"].astype(bool).to_numpy() & frame["churn"].notna().to_numpy()
    return _certain(frame, whole, offers) | (labelled & _drawn(frame, rate, seed))


def sample_weights(frame: pd.DataFrame, rate: float, whole: Collection[pd.Timestamp],
                   offers: pd.DataFrame | None = None) -> np.ndarray:
    """The weight of each kept row: 1 for rows kept whatever the rate, 1 / `rate` for the drawn."""
    return np.where(_certain(frame, whole, offers), 1.0, 1.0 / rate)


def whole_snapshots(snapshots: Collection[pd.Timestamp], labelled: Collection[pd.Timestamp], test: Collection,
                    reference: int) -> list[pd.Timestamp]:
    """The snapshots a sample keeps whole: the `test` ones, the `reference` latest `labelled`
    ones (the drift reference) and the newest of `snapshots` (scored, not fitted)."""
    latest = sorted(pd.Timestamp(s) for s in labelled)[-reference:]
    newest = [max(pd.Timestamp(s) for s in snapshots)] if len(snapshots) else []
    return sorted({pd.Timestamp(t) for t in test} | set(latest) | set(newest))
