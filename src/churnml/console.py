"""What the commands print on the terminal besides the log: tables that keep every name whole at
any width (a pipe, an 80-column terminal), so that no two scorers read alike."""

from __future__ import annotations

from churnml.evaluate import METRIC_NAMES


def print_scorers(title: str, cells: dict[str, list[str]]) -> None:
    """One row per scorer (its full name, never cut), one column per metric of
    `churnml.evaluate.METRIC_NAMES`; a cell or header too wide for the terminal wraps instead
    of being cut."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, box=None, title_justify="left")
    table.add_column("scorer", no_wrap=True)
    for name in METRIC_NAMES:
        table.add_column(name, justify="right", overflow="fold")
    for scorer, row in cells.items():
        table.add_row(scorer, *row)
    Console().print(table)
