"""`churnml run`: the whole monthly chain on the configured data.

generate (synthetic data only, and only when `data.dir` holds no tables) → validate →
features → train (track, register, gate, export) → score; then the top of the ranked list on the
terminal and the paths of every output. `make run` calls it.
"""

from __future__ import annotations

import logging
import time

import pandas as pd

from churnml.stages import RunContext

log = logging.getLogger(__name__)

# Columns of the terminal summary: (risk-list column, heading, format)
TOP_COLUMNS = [
    ("rank", "#", "{:.0f}"),
    ("name", "account", "{}"),
    ("tier", "tier", "{}"),
    ("revenue_12m", "revenue 12m", "{:,.0f}"),
    ("churn_probability", "churn", "{:.0%}"),
    ("revenue_at_risk", "at risk", "{:,.0f}"),
    ("reason_1", "main reason", "{}"),
    ("action", "action", "{}"),
    ("change", "change", "{}"),
]


def run_stage(ctx: RunContext) -> None:
    from churnml.catalog import ensure_synthetic, load_fingerprinted, load_tables_for
    from churnml.months import parse_today
    from churnml.stages import features, train, validate
    from churnml.stages.score import score_month

    config = ctx.config
    today = parse_today(config.today)
    started = time.perf_counter()
    steps: list[tuple[str, float]] = []

    def step(name: str, func):
        tick = time.perf_counter()
        log.info("── %s", name)
        out = func()
        steps.append((name, time.perf_counter() - tick))
        return out

    from churnml import tracking

    tracking.connect(config.mlflow.tracking_uri)  # an unreachable server fails before any work
    # The tables are loaded and their features built once, then handed to each stage.
    step("generate", lambda: ensure_synthetic(config.data, today, config.labels))
    tables, fingerprint = step("validate", lambda: load_fingerprinted(config, lambda: load_tables_for(config)))
    validate.report_tables(tables, config.data)
    if config.engine.name == "spark":
        from churnml.catalog import write_features_on_spark
        from churnml.io import read_frame

        frame = step("features", lambda: read_frame(write_features_on_spark(config)))
    else:
        frame = step("features", lambda: features.make_features(config, tables, fingerprint))
    step("train", lambda: train.train_and_publish(config, ctx.params, ctx.output_dir, tables, frame,
                                                  overrides=ctx.overrides))
    scored = step("score", lambda: score_month(config, params=ctx.params, output_dir=ctx.output_dir, tables=tables,
                                               fingerprint=fingerprint, overrides=ctx.overrides))
    log.info(
        "run done in %.0f s (%s)",
        time.perf_counter() - started,
        ", ".join(f"{name} {secs:.1f} s" for name, secs in steps),
    )
    print_top(scored.risk_list, config.score.top_n, scored.as_of)
    print_outputs(scored, config)


def print_top(risk_list: pd.DataFrame, n: int, as_of: str) -> None:
    """The first `n` rows of the ranked list as a table on the terminal."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Retention priorities {as_of}: top {min(n, len(risk_list))} of {len(risk_list)}")
    shown = [(col, head, fmt) for col, head, fmt in TOP_COLUMNS if col in risk_list.columns]
    for _, head, _ in shown:
        table.add_column(head, overflow="fold")
    for _, row in risk_list.head(n).iterrows():  # the list is sorted by rank
        table.add_row(*(_cell(row[col], fmt) for col, _, fmt in shown))
    Console(width=160).print(table)


def print_outputs(scored, config) -> None:
    from rich.console import Console

    console = Console(width=160)
    console.print("[bold]Outputs[/bold]")
    for name, path in sorted(scored.paths.items()):
        console.print(f"  {name:<18} {path}")
    console.print(f"  {'features':<18} {config.paths.features}/features.parquet")
    console.print(f"  {'exported model':<18} {config.paths.models}")
    uri = config.mlflow.tracking_uri
    console.print(f"  {'MLflow':<18} {uri}  (.venv/bin/mlflow ui --backend-store-uri {uri})")


def _cell(value, fmt: str) -> str:
    from churnml.report import is_missing

    if is_missing(value):
        return ""
    try:
        return fmt.format(value)
    except (ValueError, TypeError):
        return str(value)
