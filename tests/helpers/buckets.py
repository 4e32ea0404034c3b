"""Build the features of a few tables bucket by bucket, as the Spark engine splits the accounts."""

from __future__ import annotations

import numpy as np
import pandas as pd

from churnml.features import account, across
from churnml.features.build import account_rows, default_months, extent, filled_columns, finish_rows


def build_in_buckets(tables: dict[str, pd.DataFrame], features_cfg, labels_cfg, bucket_of: np.ndarray) -> pd.DataFrame:
    """The features frame built from each bucket of accounts alone (`bucket_of[i]`: the bucket of
    the i-th account), the group totals and BG/NBD fits taken over all rows afterwards."""
    accounts = tables["accounts"]
    ext = extent(tables)
    months = default_months(ext, features_cfg)
    levels, filled = account.levels(accounts), filled_columns(tables)
    position = pd.Series(np.arange(len(accounts)), index=accounts["account_id"])
    parts = []
    for bucket in np.unique(bucket_of):
        ids = set(accounts["account_id"][bucket_of == bucket])
        sub = {name: frame[frame["account_id"].isin(ids)].reset_index(drop=True) for name, frame in tables.items()}
        parts.append(account_rows(sub, ext, months, features_cfg, labels_cfg, levels, filled))
    rows = pd.concat(parts, ignore_index=True)
    rows["_pos"] = position.reindex(rows["account_id"]).to_numpy()
    rows = rows.sort_values(["snapshot", "_pos"], kind="stable").reset_index(drop=True)
    across.add_totals(rows)
    models = across.fit_bgnbd_models(across.bgnbd_inputs(rows)) if across.BGNBD[0] in rows else {}
    return finish_rows(rows, models, labels_cfg.horizon_months)
