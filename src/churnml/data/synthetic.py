"""The synthetic key-account world (placeholder until the generator lands)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class WorldParams:
    """Parameters of the simulated world (see conf/data/synthetic.yaml)."""

    industries: int = 8
