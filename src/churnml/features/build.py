"""Assembly: the panel, every selected family, scope and labels, into one frame with a row per
account and snapshot."""

from __future__ import annotations

import logging
import time
from typing import Iterable

import numpy as np
import pandas as pd

from churnml.config import FeaturesConfig, LabelsConfig
from churnml.constraints import check, fail
from churnml.errors import ConfigError, ContractError, Problem
from churnml.features import (
    account,
    competitor,
    complaints,
    orders,
    peers,
    relationship,
    switching,
)
from churnml.features import labels as labels_mod
from churnml.features.dictionary import FAMILIES, FEATURES, FLAGS, KEYS, LABELS
from churnml.features.panel import MAX_LOOKBACK_MONTHS, Panel, month_numbers, month_start

log = logging.getLogger(__name__)

# Columns of the optional tables whose dates place their rows in time (the grid must start early
# enough for them).
_DATE_COLUMNS = {
    "complaints": ["opened_at"],
    "competitor_signals": ["observed_at"],
    "interactions": ["occurred_at"],
    "contacts": ["start_date", "end_date"],
    "outcomes": ["lost_at"],
}
# Tables a family is built from (each module says); the family is skipped when none is given.
FAMILY_TABLES = {
    m.NAME: m.TABLES
    for m in (orders, complaints, competitor, relationship, switching, peers, account)
}
FRONT = ["revenue_12m", "usual_monthly_revenue"]


def _order_months(tables: dict[str, pd.DataFrame]) -> tuple[int, int]:
    """Month numbers of the first and the latest order."""
    if "orders" not in tables or tables["orders"]["order_date"].isna().all():
        raise ContractError([Problem("orders", "order_date", "no order lines with a date")])
    dates = tables["orders"]["order_date"]
    return _month_of(dates.min()), _month_of(dates.max())


def _month_of(stamp: pd.Timestamp) -> int:
    """Months since 1970-01 of one date."""
    return (stamp.year - 1970) * 12 + stamp.month - 1


def data_end(tables: dict[str, pd.DataFrame]) -> pd.Timestamp:
    """The first month after the latest order (orders are the backbone: scope and labels rest
    on them), e.g. latest order 2024-12-28 -> 2025-01-01. The default scoring month."""
    return month_start(_order_months(tables)[1] + 1)


def default_snapshots(tables: dict[str, pd.DataFrame], cfg: FeaturesConfig) -> pd.DatetimeIndex:
    """Every month start from the first order month + `min_history_months` up to and including
    `data_end` (the scoring month, unlabelled)."""
    first, last = _order_months(tables)
    months = np.arange(first + cfg.min_history_months, last + 2)
    return pd.DatetimeIndex(months.astype("datetime64[M]").astype("datetime64[ns]"))


def check_config(features_cfg: FeaturesConfig, labels_cfg: LabelsConfig) -> None:
    """Raise `ConfigError` naming the parameter when a features or labels value is not allowed:
    the config's own constraints, then the names the feature dictionary knows."""
    check(features_cfg, "features")
    check(labels_cfg, "labels")
    unknown = [f for f in features_cfg.families if f not in FAMILIES]
    if unknown:
        raise fail("features.families", f"families among {FAMILIES}", unknown)
    unknown = [n for n in features_cfg.exclude if n not in FEATURES]
    if unknown:
        raise fail(
            "features.exclude",
            "names in the feature dictionary (data/features/feature_dictionary.csv)",
            unknown,
        )
    if "orders" not in features_cfg.families:
        raise fail("features.families", "a list that includes 'orders' (scope, labels and revenue rest on it)",
                   list(features_cfg.families))


def _snapshot_months(snapshots: Iterable) -> np.ndarray:
    stamps = pd.DatetimeIndex(pd.to_datetime(list(snapshots)))
    bad = [str(s.date()) for s in stamps if s != s.normalize() or s.day != 1]
    if bad:
        raise ConfigError(f"snapshots must be first days of months (YYYY-MM-01); given {bad[:5]}")
    return np.unique(month_numbers(stamps.to_numpy()))


def make_panel(tables: dict[str, pd.DataFrame], snapshot_months: np.ndarray) -> Panel:
    """The grid: accounts in the order of the accounts table; months from the earliest row (at
    most `MAX_LOOKBACK_MONTHS` before the first order) to the data end or the last snapshot."""
    first_order, last_order = _order_months(tables)
    earliest = first_order
    for table, columns in _DATE_COLUMNS.items():
        if table in tables:
            for column in columns:
                value = tables[table][column].min()
                if pd.notna(value):
                    earliest = min(earliest, _month_of(value))
    start = max(earliest, first_order - MAX_LOOKBACK_MONTHS)
    end = last_order + 1
    if len(snapshot_months):
        start = min(start, int(snapshot_months.min()))
        end = max(end, int(snapshot_months.max()))
    return Panel(
        accounts=pd.Index(tables["accounts"]["account_id"]),
        start=start,
        n_months=end - start,
        orders_start=first_order - start,
        data_end=last_order + 1 - start,
        cols=(snapshot_months - start).astype(np.int64),
    )


def build_features(
    tables: dict[str, pd.DataFrame],
    features_cfg: FeaturesConfig,
    labels_cfg: LabelsConfig,
    snapshots: Iterable | None = None,
) -> pd.DataFrame:
    """Point-in-time features and labels, one row per account and snapshot (accounts that exist
    at t: first order or `since` before t), ordered by snapshot then account.

    Columns: `account_id`, `snapshot`, the flags `in_scope`, `recently_lost`, `labelled`,
    `revenue_12m`, `usual_monthly_revenue`, the labels `churn`, `switch` (1.0 / 0.0, NaN when
    unlabelled or out of scope), then the feature columns of the selected families whose tables
    are present (see `churnml.features.dictionary`). `snapshots` (month starts) default to
    `default_snapshots`.
    """
    check_config(features_cfg, labels_cfg)
    clock = time.perf_counter()
    if snapshots is None:
        months = month_numbers(default_snapshots(tables, features_cfg).to_numpy())
    else:
        months = _snapshot_months(snapshots)
    panel = make_panel(tables, months)
    accounts = tables["accounts"]
    op = orders.aggregate(panel, tables["orders"])
    log.debug("orders panel %d x %d in %.2fs", panel.n_accounts, panel.n_months,
              time.perf_counter() - clock)
    outcomes = tables.get("outcomes")
    status = labels_mod.account_status(panel, op, accounts, outcomes, labels_cfg)
    lab = labels_mod.make_labels(
        panel, op, status, outcomes, tables.get("competitor_signals"), labels_cfg
    )

    numeric: dict[str, np.ndarray] = {}
    categorical: dict[str, pd.Categorical] = {}
    for family in FAMILIES:
        if family not in features_cfg.families:
            continue
        if not any(t in tables for t in FAMILY_TABLES[family]):
            log.info("features: family %s skipped (no %s table)", family,
                     " or ".join(FAMILY_TABLES[family]))
            continue
        if family == "orders":
            numeric.update(orders.build(panel, op, accounts, labels_cfg.horizon_months))
        elif family == "complaints":
            numeric.update(complaints.build(panel, tables["complaints"]))
        elif family == "competitor":
            numeric.update(competitor.build(panel, tables["competitor_signals"]))
        elif family == "relationship":
            numeric.update(
                relationship.build(panel, tables.get("interactions"), tables.get("contacts"))
            )
        elif family == "switching":
            numeric.update(switching.build(panel, tables["interactions"]))
        elif family == "peers":
            numeric.update(
                peers.build(panel, status, accounts, outcomes, features_cfg.peer_leader_influence)
            )
        elif family == "account":
            values, categories = account.build(panel, accounts)
            numeric.update(values)
            categorical.update(categories)
    for name in features_cfg.exclude:
        numeric.pop(name, None)
        categorical.pop(name, None)
    missing = [n for n in [*numeric, *categorical] if n not in FEATURES]
    if missing:  # a programming error: every feature needs a dictionary entry
        raise RuntimeError(f"features without a dictionary entry: {missing}")

    frame = _assemble(panel, status, lab, numeric, categorical)
    log.debug("features %s built in %.2fs", frame.shape, time.perf_counter() - clock)
    return frame


def _assemble(
    panel: Panel,
    status: labels_mod.AccountStatus,
    lab: dict[str, np.ndarray],
    numeric: dict[str, np.ndarray],
    categorical: dict[str, pd.Categorical],
) -> pd.DataFrame:
    """Flatten the `(A, J)` arrays of the accounts that exist at each snapshot into rows
    (emptying `numeric` on the way)."""
    c = panel.cols
    present = status.exists[:, c].T  # (J, A): rows ordered by snapshot, then account
    snap_idx, acc_idx = np.nonzero(present)
    n = len(acc_idx)

    float_names = [*FRONT, *LABELS, *[k for k in numeric if k not in FRONT]]
    # One float block, filled column by column, so the frame is not copied once more; each
    # (A, J) array is dropped from `numeric` once copied, so memory does not hold both.
    block = np.empty((len(float_names), n))
    for i, name in enumerate(float_names):
        block[i] = (lab[name] if name in LABELS else numeric.pop(name)).T[present]
    frame = pd.DataFrame(block.T, columns=float_names, copy=False)

    ids = panel.accounts.array.take(acc_idx)
    frame.insert(0, "account_id", ids if ids.dtype == "str" else pd.array(ids, dtype="str"))
    frame.insert(1, "snapshot", panel.snapshot_dates.take(snap_idx))
    frame.insert(2, "in_scope", status.in_scope[:, c].T[present])
    frame.insert(3, "recently_lost", status.recently_lost[:, c].T[present])
    frame.insert(4, "labelled", lab["labelled"][snap_idx])
    for name, values in categorical.items():
        frame[name] = pd.Categorical.from_codes(
            values.codes[acc_idx], categories=values.categories
        )
    assert list(frame.columns[: len(KEYS) + len(FLAGS)]) == [*KEYS, *FLAGS]
    return frame
