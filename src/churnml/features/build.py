"""Assembly: the panel, every selected family, scope and labels, into one frame with a row per
account and snapshot."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np
import pandas as pd

from churnml.config import FeaturesConfig, LabelsConfig
from churnml.constraints import check, fail
from churnml.errors import ConfigError, ContractError, Problem
from churnml.features import (
    account,
    across,
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
from churnml.parallel import run_all, workers

log = logging.getLogger(__name__)

# Columns of the optional tables whose dates place their rows in time (the grid must start early
# enough for them).
DATE_COLUMNS = {
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
FEATURE_DTYPE = np.float32  # of the numeric features (revenue and labels stay float64)


@dataclass(frozen=True)
class Extent:
    """Where the extract lies in time, as month numbers (months since 1970-01): the first and
    the latest order, and the earliest dated row of any table."""

    first_order: int
    last_order: int
    earliest: int


def extent(tables: dict[str, pd.DataFrame]) -> Extent:
    """The `Extent` of the tables; the orders must hold a date."""
    if "orders" not in tables or tables["orders"]["order_date"].isna().all():
        raise ContractError([Problem("orders", "order_date", "no order lines with a date")])
    dates = tables["orders"]["order_date"]
    first, last = _month_of(dates.min()), _month_of(dates.max())
    others = earliest_month(tables)
    return Extent(first, last, first if others is None else min(first, others))


def earliest_month(tables: dict[str, pd.DataFrame]) -> int | None:
    """Month number of the earliest dated row of the optional tables (`DATE_COLUMNS`); None
    when they hold no date."""
    months = [_month_of(tables[t][c].min()) for t, columns in DATE_COLUMNS.items() if t in tables
              for c in columns if tables[t][c].notna().any()]
    return min(months) if months else None


def filled_columns(tables: dict[str, pd.DataFrame]) -> dict[str, frozenset[str]]:
    """Table -> its columns that hold at least one value."""
    return {name: frozenset(frame.columns[frame.notna().any().to_numpy()]) for name, frame in tables.items()}


def _month_of(stamp: pd.Timestamp) -> int:
    """Months since 1970-01 of one date."""
    return (stamp.year - 1970) * 12 + stamp.month - 1


def data_end(tables: dict[str, pd.DataFrame]) -> pd.Timestamp:
    """The first month after the latest order (orders are the backbone: scope and labels rest
    on them), e.g. latest order 2024-12-28 -> 2025-01-01. The default scoring month."""
    return month_start(extent(tables).last_order + 1)


def default_snapshots(tables: dict[str, pd.DataFrame], cfg: FeaturesConfig) -> pd.DatetimeIndex:
    """Every month start from the first order month + `min_history_months` up to and including
    `data_end` (the scoring month, unlabelled)."""
    return pd.DatetimeIndex(month_start_dates(default_months(extent(tables), cfg)))


def default_months(ext: Extent, cfg: FeaturesConfig) -> np.ndarray:
    """Month numbers of the default snapshots (see `default_snapshots`)."""
    return np.arange(ext.first_order + cfg.min_history_months, ext.last_order + 2)


def month_start_dates(months: np.ndarray) -> np.ndarray:
    return np.asarray(months).astype("datetime64[M]").astype("datetime64[ns]")


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


def grid(ext: Extent, snapshot_months: np.ndarray) -> dict[str, Any]:
    """The panel's months, the same for every account: from the earliest row (at most
    `MAX_LOOKBACK_MONTHS` before the first order) to the data end or the last snapshot."""
    start = max(ext.earliest, ext.first_order - MAX_LOOKBACK_MONTHS)
    end = ext.last_order + 1
    if len(snapshot_months):
        start = min(start, int(snapshot_months.min()))
        end = max(end, int(snapshot_months.max()))
    return {
        "start": start,
        "n_months": end - start,
        "orders_start": ext.first_order - start,
        "data_end": ext.last_order + 1 - start,
        "cols": (snapshot_months - start).astype(np.int64),
    }


def make_panel(tables: dict[str, pd.DataFrame], snapshot_months: np.ndarray) -> Panel:
    """The grid of the tables' accounts (in the order of the accounts table) at `snapshot_months`."""
    return Panel(accounts=pd.Index(tables["accounts"]["account_id"]), **grid(extent(tables), snapshot_months))


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
    ext = extent(tables)
    months = default_months(ext, features_cfg) if snapshots is None else _snapshot_months(snapshots)
    rows = account_rows(tables, ext, months, features_cfg, labels_cfg,
                        account.levels(tables["accounts"]), filled_columns(tables))
    across.add_totals(rows)
    models = across.fit_bgnbd_models(across.bgnbd_inputs(rows)) if across.BGNBD[0] in rows else {}
    frame = finish_rows(rows, models, labels_cfg.horizon_months)
    log.debug("features %s built in %.2fs", frame.shape, time.perf_counter() - clock)
    return frame


def account_rows(
    tables: dict[str, pd.DataFrame],
    ext: Extent,
    snapshot_months: np.ndarray,
    features_cfg: FeaturesConfig,
    labels_cfg: LabelsConfig,
    categories: dict[str, list[str]],
    filled: dict[str, frozenset[str]],
) -> pd.DataFrame:
    """The rows of the accounts in `tables["accounts"]` (any subset of the extract's accounts,
    with their rows of the other tables): every feature that rests on the account alone, the
    features that compare with other accounts as placeholders with the account's own part
    (`churnml.features.across`). `ext`, `categories` (`account.levels`) and `filled`
    (`filled_columns`) describe the whole extract, so any split of the accounts gives the same rows."""
    panel = Panel(accounts=pd.Index(tables["accounts"]["account_id"]), **grid(ext, snapshot_months), filled=filled)
    accounts = tables["accounts"]
    op = orders.aggregate(panel, tables["orders"])
    outcomes = tables.get("outcomes")
    status = labels_mod.account_status(panel, op, accounts, outcomes, labels_cfg)
    lab = labels_mod.make_labels(
        panel, op, status, outcomes, tables.get("competitor_signals"), labels_cfg
    )

    builders = {
        "orders": lambda: orders.build(panel, op, accounts, labels_cfg.horizon_months),
        "complaints": lambda: complaints.build(panel, tables["complaints"]),
        "competitor": lambda: competitor.build(panel, tables["competitor_signals"]),
        "relationship": lambda: relationship.build(panel, tables.get("interactions"), tables.get("contacts")),
        "switching": lambda: switching.build(panel, tables["interactions"]),
        "peers": lambda: peers.build(panel, status, accounts, outcomes, features_cfg.peer_leader_influence),
        "account": lambda: account.build(panel, accounts, categories),
    }
    chosen = []
    for family in FAMILIES:
        if family not in features_cfg.families:
            continue
        if not any(t in tables for t in FAMILY_TABLES[family]):
            log.info("features: family %s skipped (no %s table)", family,
                     " or ".join(FAMILY_TABLES[family]))
            continue
        chosen.append(family)
    numeric: dict[str, np.ndarray | None] = {}
    categorical: dict[str, pd.Categorical] = {}
    # the families read the same aggregates and write nothing shared: built side by side,
    # gathered in the dictionary's order
    for family, built in zip(chosen, run_all(*(builders[f] for f in chosen))):
        if family == "account":
            values, categories_of = built
            numeric.update(values)
            categorical.update(categories_of)
        else:
            numeric.update(built)
    for name in features_cfg.exclude:
        numeric.pop(name, None)
        categorical.pop(name, None)
    missing = [n for n in [*numeric, *categorical] if n not in FEATURES and not n.startswith("_")]
    if missing:  # a programming error: every feature needs a dictionary entry
        raise RuntimeError(f"features without a dictionary entry: {missing}")
    keys = {key: accounts[column] for key, column in ((across.INDUSTRY, "industry"), (across.REGION, "region"))
            if any(c in numeric for c in across.GROUP_SUMS[key])}
    return _assemble(panel, status, lab, numeric, categorical, keys)


def finish_rows(rows: pd.DataFrame, models: dict, horizon: int) -> pd.DataFrame:
    """The features frame from `account_rows` whose group totals are added: the placeholders
    filled (`across.finish`), the rows and columns that only carried own parts dropped."""
    across.finish(rows, models, horizon)
    if across.PRESENT in rows and not rows[across.PRESENT].all():
        present = rows[across.PRESENT].to_numpy()
        n = int(present.sum())
        # `_assemble` puts those rows last: cut them off without copying the frame
        rows = rows.iloc[:n] if present[:n].all() else rows[present]
        rows = rows.reset_index(drop=True)
    return rows.drop(columns=[c for c in rows.columns if c.startswith("_")])


def _assemble(
    panel: Panel,
    status: labels_mod.AccountStatus,
    lab: dict[str, np.ndarray],
    numeric: dict[str, np.ndarray | None],
    categorical: dict[str, pd.Categorical],
    keys: dict[str, pd.Series],
) -> pd.DataFrame:
    """Flatten the `(A, J)` arrays of the accounts that exist at each snapshot into rows ordered
    by snapshot, then account (emptying `numeric` on the way); a placeholder (None) becomes a
    column of NaN. Where an account that does not exist yet has a part in a group total, its
    row is added after all the others with `_present` False."""
    c = panel.cols
    J = len(c)
    present = status.exists[:, c]
    extra = np.zeros_like(present)
    for name, values in numeric.items():
        if name.startswith("_") and values is not None:
            with np.errstate(invalid="ignore"):
                extra |= np.isfinite(values) & (values != 0)
    extra &= ~present
    snap_idx, acc_idx = np.nonzero(present.T)  # (J, A): by snapshot, then account
    if extra.any():
        more_snap, more_acc = np.nonzero(extra.T)
        snap_idx, acc_idx = np.concatenate([snap_idx, more_snap]), np.concatenate([acc_idx, more_acc])
    at = acc_idx * J + snap_idx  # each row's place in a C-ordered (A, J) array
    n = len(at)

    def rows_of(values: np.ndarray, buffer: np.ndarray | None = None) -> np.ndarray:
        flat = np.ascontiguousarray(values).reshape(-1)
        if buffer is None or flat.dtype != np.float64:
            return np.take(flat, at)
        return np.take(flat, at, out=buffer, mode="clip")  # `at` is in range by construction

    # Three blocks, each filled column by column so the frame is not copied once more, and each
    # (A, J) array dropped from `numeric` once copied, so memory does not hold both:
    # - revenue and labels in float64: money is summed and compared in the list;
    # - the features in float32: their 7 significant digits are more than any of them means,
    #   and the frame, its file and every stage that reads it take half the memory;
    # - the own parts last, in float64 (exact totals): `finish_rows` drops them as a block.
    features = [k for k in numeric if k not in FRONT and not k.startswith("_")]
    own = [k for k in numeric if k.startswith("_")]
    groups = [([*FRONT, *LABELS], np.float64), (features, FEATURE_DTYPE), (own, np.float64)]
    blocks = [np.empty((len(names), n), dtype=dtype) for names, dtype in groups]
    cells = [(block, i, name) for block, (names, _) in zip(blocks, groups) for i, name in enumerate(names)]
    sources = {name: lab[name] if name in LABELS else numeric.pop(name) for _, _, name in cells}

    def fill(part: list) -> None:
        buffer = np.empty(n)  # one per task, reused for each column: no fresh allocation per column
        for block, i, name in part:
            values = sources.pop(name)
            block[i] = np.nan if values is None else rows_of(values, buffer)

    tasks = max(1, min(workers(), len(cells)))
    run_all(*(lambda part=cells[k::tasks]: fill(part) for k in range(tasks)))
    frame = pd.concat(
        [pd.DataFrame(block.T, columns=names, copy=False) for block, (names, _) in zip(blocks, groups)], axis=1
    )

    ids = panel.accounts.array.take(acc_idx)
    frame.insert(0, "account_id", ids if ids.dtype == "str" else pd.array(ids, dtype="str"))
    frame.insert(1, "snapshot", panel.snapshot_dates.take(snap_idx))
    frame.insert(2, "in_scope", rows_of(status.in_scope[:, c]))
    frame.insert(3, "recently_lost", rows_of(status.recently_lost[:, c]))
    frame.insert(4, "labelled", lab["labelled"][snap_idx])
    for name, values in categorical.items():
        frame[name] = pd.Categorical.from_codes(
            values.codes[acc_idx], categories=values.categories
        )
    for name, values in keys.items():
        frame[name] = values.array.take(acc_idx)
    frame[across.PRESENT] = rows_of(present)
    assert list(frame.columns[: len(KEYS) + len(FLAGS)]) == [*KEYS, *FLAGS]
    return frame
