"""Content hashes of loaded tables: each column's dtype and a hash of its values, to compare a
loader's output with what an earlier version of it gave."""

from __future__ import annotations

import pandas as pd


def table_hashes(tables: dict[str, pd.DataFrame]) -> dict[str, dict[str, str]]:
    """{table: {column: "<dtype> <hash of the values in order>"}}."""
    return {name: {column: _column_hash(frame[column]) for column in frame.columns} for name, frame in sorted(tables.items())}


def _column_hash(values: pd.Series) -> str:
    """A coded column (a category) is described by its values: text held as codes hashes as
    the same text held as strings."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        values = values.astype(values.cat.categories.dtype)
    digest = int(pd.util.hash_pandas_object(values, index=False).sum()) & (2**64 - 1)
    return f"{values.dtype} {digest:016x}"
