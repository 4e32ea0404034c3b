"""`churnml evaluate`."""

from __future__ import annotations

from churnml.errors import NotYetAvailable
from churnml.stages import RunContext


def run_stage(ctx: RunContext) -> None:
    raise NotYetAvailable("churnml evaluate is not yet available")
