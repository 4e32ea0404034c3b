"""A world too large to simulate at once is made of parts: ids unique across parts, every
table written whole, and the loader reads it as one world."""

from pathlib import Path

import pandas as pd

from churnml.config import SyntheticDataConfig
from churnml.data.load import load_tables
from churnml.data.world_parts import generate_world_parts
from churnml.io import write_table_parts

TODAY = "2026-11-27"


def test_a_world_in_parts_reads_as_one_world_with_unique_ids(tmp_path: Path):
    parts = list(generate_world_parts(90, 24, "2023-01", seed=3, today=TODAY, part_accounts=40))
    assert [len(p.tables["accounts"]) for p in parts] == [30, 30, 30]
    write_table_parts(((p.tables, p.truth) for p in parts), tmp_path)
    tables = load_tables(SyntheticDataConfig(dir=str(tmp_path), format="parquet"), today=pd.Timestamp(TODAY).date())
    assert len(tables["accounts"]) == 90 and tables["accounts"]["account_id"].is_unique
    assert len(tables["orders"]) == sum(len(p.tables["orders"]) for p in parts)
    assert tables["orders"]["order_id"].is_unique
    assert set(tables["orders"]["account_id"]) <= set(tables["accounts"]["account_id"])
    assert tables["accounts"]["account_id"].str.match(r"^P[123]-").all()
    assert not list(tmp_path.rglob(".*.parts"))  # nothing half-written left


def test_a_world_that_fits_is_the_generators_one_world():
    from churnml.data.synthetic import generate_world

    (only,) = generate_world_parts(50, 24, "2023-01", seed=3, today=TODAY)
    pd.testing.assert_frame_equal(only.tables["orders"], generate_world(50, 24, "2023-01", 3, today=TODAY).tables["orders"])
