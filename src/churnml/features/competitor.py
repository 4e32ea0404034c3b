"""Competitor family: competitor intelligence by kind, the latest and deepest price gap, and how
long ago the last signal came in; and the one definition of a competitor's offer.

An offer is a competitor signal with a price gap; its discount is the gap's opposite (a gap of
-0.12 is a discount of 12 % below our price). `offer_discounts` reads them; the switching-cost
model learns from `training_offers` (without the kinds that are evidence of a switch, the
label); the priority uses `deepest_discount`, the deepest offer an account recently had.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from churnml.data.contract import TABLES as CONTRACT
from churnml.features.panel import (
    DAYS_PER_MONTH,
    Panel,
    window_fmin,
    window_sum,
)

NAME = "competitor"
TABLES = ("competitor_signals",)
KINDS = list(CONTRACT["competitor_signals"].column("kind").values)
PRICE_GAP_MONTHS = 12


def build(panel: Panel, signals: pd.DataFrame) -> dict[str, np.ndarray]:
    """Competitor features at the snapshot columns, each of shape `(A, J)`."""
    c = panel.cols
    A, M = panel.n_accounts, panel.n_months
    ev = panel.events(signals, "observed_at")
    every = panel.monthly(ev.acc, ev.month)
    out: dict[str, np.ndarray] = {}
    for w in (3, 12):
        out[f"competitor_signals_{w}m"] = window_sum(every, c - w, w).astype(np.float64)

    out.update(panel.counts_by_level(ev, ev.column(signals, "kind"), KINDS, "signals", 12, "competitor_signals"))

    last = panel.last_before(ev.acc, ev.month, ev.day)[:, c]
    out["months_since_competitor_signal"] = (panel.snapshot_days[None, :] - last) / DAYS_PER_MONTH

    gap = ev.column(signals, "price_gap").to_numpy(dtype=np.float64, na_value=np.nan)
    has_gap = ~np.isnan(gap)
    if panel.has_values("competitor_signals", "price_gap", gap):
        cell = ev.acc[has_gap] * M + ev.month[has_gap]
        rows = pd.DataFrame({"cell": cell, "day": ev.day[has_gap], "gap": gap[has_gap]})
        # Per month the latest observation; on the same day the deepest gap.
        rows = rows.sort_values(["cell", "day", "gap"], ascending=[True, True, False])
        latest = rows.drop_duplicates("cell", keep="last")
        monthly_latest = np.full(A * M, np.nan)
        monthly_latest[latest["cell"].to_numpy()] = latest["gap"].to_numpy()
        monthly_latest = monthly_latest.reshape(A, M)
        monthly_min = np.full(A * M, np.inf)
        np.minimum.at(monthly_min, cell, gap[has_gap])
        monthly_min[np.isinf(monthly_min)] = np.nan
        monthly_min = monthly_min.reshape(A, M)

        w = PRICE_GAP_MONTHS
        out[f"price_gap_deepest_{w}m"] = window_fmin(monthly_min, c - w, w)
        # latest: the most recent month with a gap among the last w months
        month_idx = np.where(np.isnan(monthly_latest), -1, np.arange(M)[None, :])
        last_month = np.full((A, M + 1), -1, dtype=np.int64)
        np.maximum.accumulate(month_idx, axis=1, out=last_month[:, 1:])
        pick = last_month[:, c]
        recent = (pick >= 0) & (pick >= c[None, :] - w)
        rows_idx = np.broadcast_to(np.arange(A)[:, None], pick.shape)
        out[f"price_gap_latest_{w}m"] = np.where(
            recent, monthly_latest[rows_idx, np.maximum(pick, 0)], np.nan
        )
    return out


def offer_discounts(signals: pd.DataFrame | None, exclude_kinds=()) -> pd.DataFrame:
    """Every competitor offer: `account_id, observed_at, discount` for the signals with a price
    gap and a date, leaving out the kinds in `exclude_kinds`."""
    columns = ["account_id", "observed_at", "discount"]
    if signals is None or signals.empty or "price_gap" not in signals:
        return pd.DataFrame(columns=columns)
    if len(exclude_kinds):
        signals = signals[~signals["kind"].isin(list(exclude_kinds))]
    signals = signals.dropna(subset=["price_gap", "observed_at"])
    return pd.DataFrame(
        {
            "account_id": signals["account_id"].astype(str),
            "observed_at": signals["observed_at"],
            "discount": -signals["price_gap"].astype(float),
        },
        columns=columns,
    )


def training_offers(signals: pd.DataFrame | None, switch_signal_kinds) -> pd.DataFrame:
    """The offers the switching-cost model learns from: `account_id, snapshot, offer_discount`,
    the deepest per account and month (snapshot = first day of the month the offer was seen).
    Trial orders and lost tenders are evidence of a switch (the label), not offers."""
    out = offer_discounts(signals, exclude_kinds=switch_signal_kinds)
    out = pd.DataFrame(
        {
            "account_id": out["account_id"],
            "snapshot": pd.to_datetime(out["observed_at"]).dt.to_period("M").dt.to_timestamp().astype("datetime64[ns]"),
            "offer_discount": out["discount"],
        }
    )
    return out.groupby(["account_id", "snapshot"], as_index=False)["offer_discount"].max()


def deepest_discount(signals: pd.DataFrame | None, as_of: pd.Timestamp, months: int = PRICE_GAP_MONTHS) -> pd.Series:
    """Per account, the deepest discount below our price (a positive fraction: 0.12 = 12 %) any
    competitor offered in the `months` before `as_of`; accounts without one are absent."""
    out = offer_discounts(signals)
    start = pd.Timestamp(as_of) - pd.DateOffset(months=months)
    window = out[(out["observed_at"] >= start) & (out["observed_at"] < pd.Timestamp(as_of))]
    below = window["discount"].where(window["discount"] > 0)
    return below.groupby(window["account_id"]).max().dropna().rename("deepest_discount").astype("float64")
