"""`churnml features`."""

from __future__ import annotations

from churnml.errors import NotYetAvailable
from churnml.stages import RunContext


def run_stage(ctx: RunContext) -> None:
    raise NotYetAvailable("churnml features is not yet available")
