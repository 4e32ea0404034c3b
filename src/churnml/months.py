"""Months, today and the as-of month: how a month is written, read and chosen.

A month is written `YYYY-MM` in config and folder names and is the Timestamp of its first day
in frames. `parse_month` is the one reader of a written month; `as_of_month` chooses the month
a list is scored as of.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd

from churnml.constraints import fail, month
from churnml.errors import ConfigError

_WRITTEN = month()  # the one rule of a written month


def parse_month(text: Any, param: str = "score.as_of") -> pd.Timestamp:
    """`"2025-07"` -> Timestamp('2025-07-01'); a ConfigError naming `param` for anything else."""
    value = str(text).strip()
    if not _WRITTEN.holds(value):
        raise fail(param, _WRITTEN.allowed, text)
    return pd.Timestamp(f"{value}-01")


def month_label(month: Any) -> str:
    """Timestamp('2025-07-01') -> '2025-07' (the name of a month's output folder)."""
    return pd.Timestamp(month).strftime("%Y-%m")


def month_start(stamp: Any) -> pd.Timestamp:
    """The first day of the month of `stamp`."""
    return pd.Timestamp(stamp).to_period("M").to_timestamp()


def parse_today(value: Any) -> date:
    """`today` (YYYY-MM-DD, or a date) as a date; the real date when it is not set."""
    if value is None or (isinstance(value, str) and value == ""):
        return date.today()
    if isinstance(value, date):  # also a datetime or a pandas Timestamp
        return value.date() if hasattr(value, "date") and callable(value.date) and type(value) is not date else value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise fail("today", "a date YYYY-MM-DD or null", value) from None


def optional_month(value: Any, param: str = "score.as_of") -> pd.Timestamp | None:
    """A written month as its first day; None when it is not set."""
    return None if value in (None, "") else parse_month(value, param)


def as_of_month(requested: Any, data_end: pd.Timestamp, first_order: pd.Timestamp) -> pd.Timestamp:
    """The month to score as of: `requested` (YYYY-MM) or, when it is not set, the month after
    the latest data. ConfigError for a month after that or not after the first order month."""
    end = pd.Timestamp(data_end)
    if requested in (None, ""):
        return end
    as_of = parse_month(requested)
    if as_of > end:
        raise ConfigError(
            f"score.as_of={requested} is after the data: the latest data is in "
            f"{month_label(end - pd.DateOffset(months=1))}, so the latest month that can be scored is {month_label(end)}"
        )
    first = month_start(first_order)
    if as_of <= first:
        raise ConfigError(
            f"score.as_of={requested} is not after the first order month ({month_label(first)}): "
            "there is no history to score from"
        )
    return as_of
