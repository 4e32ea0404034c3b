"""Shared fixtures."""

from __future__ import annotations

import pytest

# "today" for everything built from the synthetic world: after its end, fixed so tests are stable.
SMALL_WORLD_TODAY = "2026-11-27"


@pytest.fixture(scope="session")
def small_world():
    """A small synthetic world (300 accounts, 36 months from 2021-01, seed 7): `World` with
    `.tables` (the seven contract tables, loader dtypes) and `.truth` (`hazard`, `accounts`)."""
    from churnml.data.synthetic import generate_world

    return generate_world(accounts=300, months=36, start="2021-01", seed=7, today=SMALL_WORLD_TODAY)
