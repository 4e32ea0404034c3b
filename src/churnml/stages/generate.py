"""`churnml generate`: simulate the synthetic key-account world and write it to `data.dir`.

Writes the seven contract tables as `<data.dir>/<table>.<data.format>` and the ground truth to
`<data.dir>/truth/` (`hazard`, `accounts`, and `figures.json` with the world's calibration figures:
churn rate, the oracle's out-of-time AUC, the best single column's AUC, revenue concentration).
Every file is replaced atomically; running it again regenerates the world.
"""

from __future__ import annotations

from churnml.catalog import write_synthetic_world
from churnml.months import parse_today
from churnml.stages import RunContext


def run_stage(ctx: RunContext) -> None:
    """Generate the synthetic world into data.dir (always regenerates)."""
    write_synthetic_world(ctx.config.data, parse_today(ctx.config.today), ctx.config.labels)
