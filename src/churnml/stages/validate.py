"""`churnml validate`: check the input tables against the contract and print a summary.

Writes nothing. Bad input ends in one `ContractError` listing every problem (exit code 2).
"""

from __future__ import annotations

import logging

import pandas as pd

from churnml.catalog import require_tables
from churnml.months import optional_month
from churnml.stages import RunContext

log = logging.getLogger(__name__)


def run_stage(ctx: RunContext) -> None:
    from churnml.catalog import load_tables_for

    config = ctx.config
    as_of = optional_month(config.score.as_of)
    require_tables(config.data)
    report_tables(load_tables_for(config, as_of=as_of), config.data, as_of)


def report_tables(tables: dict[str, pd.DataFrame], data, as_of: pd.Timestamp | None = None) -> None:
    """Print and log the summary of tables that passed the contract."""
    from churnml.data.summary import summarize_tables, top_revenue_share

    summary = summarize_tables(tables)
    share = top_revenue_share(tables)
    _print_summary(summary, share, where=_describe_source(data), as_of=as_of)
    for row in summary.itertuples(index=False):
        log.info(
            "%s: %d rows, %d accounts, %s %s … %s",
            row.table,
            row.rows,
            row.accounts,
            row.date_column or "-",
            _day(row.first),
            _day(row.last),
        )
    log.info("top 20%% of accounts earn %.1f%% of net revenue; the input keeps the contract", 100 * share)


def _day(value) -> str:
    return "" if pd.isna(value) else f"{value:%Y-%m-%d}"


def _describe_source(data) -> str:
    if data.source in ("sql", "spark_tables"):
        from churnml.data.source import data_source

        return data_source(data).location
    return f"{data.dir} ({data.format})"


def _print_summary(summary: pd.DataFrame, share: float, where: str, as_of: pd.Timestamp | None) -> None:
    from rich.console import Console
    from rich.table import Table

    title = f"Input tables in {where}" + (f", as of {as_of:%Y-%m}" if as_of is not None else "")
    table = Table(title=title, title_justify="left")
    for name, justify in [("table", "left"), ("rows", "right"), ("accounts", "right"),
                          ("date column", "left"), ("first", "left"), ("last", "left")]:
        table.add_column(name, justify=justify)
    for row in summary.itertuples(index=False):
        table.add_row(
            row.table, f"{row.rows:,}", f"{row.accounts:,}", row.date_column or "", _day(row.first), _day(row.last)
        )
    console = Console()
    console.print(table)
    console.print(f"Top 20 % of accounts by net revenue earn {100 * share:.1f} % of it.")
    console.print("[green]The input keeps the contract.[/green]")
