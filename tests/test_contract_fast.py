"""The contract's fast checks agree with the plain pandas ones they replace."""

from __future__ import annotations

import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from churnml.data.contract import all_distinct

texts = st.lists(st.one_of(st.none(), st.text(alphabet="ab\u00e9\u4e2d ", max_size=4)), max_size=40)


@given(values=texts, start=st.integers(0, 5), dtype=st.sampled_from(["str", "object"]))
def test_all_distinct_is_not_duplicated_any(values, start, dtype):
    # A slice starts inside the Arrow buffers (a non-zero offset), as a filtered column does.
    series = pd.Series(values, dtype=dtype).iloc[start:]
    assert all_distinct(series) == (not series.duplicated().any())
