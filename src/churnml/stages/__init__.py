"""Stage functions: each reads its inputs through loaders, calls pure functions, and writes
its outputs through writers and `churnml.tracking`. Only `cli.py` calls them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from churnml.config import Config


@dataclass
class RunContext:
    """What a stage gets from the command line: its name, the typed config, the resolved config
    as dotted params (for tracking) and Hydra's output folder of this run (logs, `.hydra/`)."""

    stage: str
    config: Config
    params: dict[str, Any]
    output_dir: Path
    overrides: tuple[str, ...] = ()  # what the command line changed (`features=orders_only`, …)


def _lazy(module: str, name: str) -> Callable[[RunContext], None]:
    # Import the stage only when it runs, so `churnml --help` stays fast.
    def call(ctx: RunContext) -> None:
        import importlib

        return getattr(importlib.import_module(f"churnml.stages.{module}"), name)(ctx)

    return call


STAGE_FUNCTIONS: dict[str, Callable[[RunContext], None]] = {
    name: _lazy(name, "run_stage")
    for name in ("generate", "validate", "features", "train", "tune", "evaluate", "score", "run")
}
