"""Synthetic worlds too large to simulate at once (hundreds of thousands of accounts), made of
parts the generator simulates one at a time."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Iterator, Optional

import numpy as np
import pandas as pd

from churnml.data.contract import coded_as_categories
from churnml.data.synthetic import World, generate_world
from churnml.data.world_params import WorldParams

PART_ACCOUNTS = 25_000  # above this many accounts a world is simulated in parts of at most this size


def generate_world_parts(
    accounts: int,
    months: int = 48,
    start: str = "2021-01",
    seed: int = 42,
    params: Optional[WorldParams] = None,
    today: Any = None,
    part_accounts: int = PART_ACCOUNTS,
) -> Iterator[World]:
    """The world of `accounts` accounts as parts of at most `part_accounts`, one at a time: each
    a world of its own (its own market, seeded from `seed`) with every id prefixed by its part
    (`P03-A000123`); the one world `generate_world` makes when it fits in one part."""
    n_parts = max(1, -(-int(accounts) // int(part_accounts)))
    if n_parts == 1:
        yield generate_world(accounts, months, start, seed, params, today)
        return
    seeds = np.random.SeedSequence(int(seed)).spawn(n_parts)
    for k in range(n_parts):
        size = accounts // n_parts + (1 if k < accounts % n_parts else 0)
        world = generate_world(size, months, start, int(seeds[k].generate_state(1)[0] % 2**31), params, today)
        prefix = f"P{k + 1:0{len(str(n_parts))}d}-"
        yield replace(world, tables={n: coded_as_categories(n, prefixed(f, prefix)) for n, f in world.tables.items()},
                      truth={n: prefixed(f, prefix) for n, f in world.truth.items()})


def prefixed(frame: pd.DataFrame, prefix: str) -> pd.DataFrame:
    """`frame` with every id column (`*_id`) prefixed."""
    out = frame.copy()
    for column in out.columns:
        if column.endswith("_id"):
            text = out[column].astype("str")
            out[column] = (prefix + text).where(out[column].notna(), None).astype("str")
    return out
