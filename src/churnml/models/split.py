"""The time-ordered split: train, early-stopping validation, calibration, out-of-time test.

Labels look `horizon` months ahead, so a snapshot `t` "knows" the months `[t, t + H)`. A snapshot
may be used for fitting (training, early stopping or calibration) only when that window ends at
or before the first held-out snapshot; the snapshots in between form the gap and are not used.

With few labelled snapshots (a short extract) the configured sizes shrink one step at a time,
largest first, down to one snapshot each; the split says what it used. Only when even that does
not fit is training impossible, which is a `ConfigError` (exit 2).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Sequence

import pandas as pd

from churnml.config import SplitConfig
from churnml.errors import ConfigError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TimeSplit:
    """Snapshots of each slice, oldest first. `gap` are labelled snapshots left out because
    their label window reaches into the test."""

    train: tuple[pd.Timestamp, ...]
    valid: tuple[pd.Timestamp, ...]
    calib: tuple[pd.Timestamp, ...]
    gap: tuple[pd.Timestamp, ...]
    test: tuple[pd.Timestamp, ...]
    horizon: int

    @property
    def fit_snapshots(self) -> tuple[pd.Timestamp, ...]:
        """Every snapshot something is fitted on (trees, early stopping, calibration)."""
        return self.train + self.valid + self.calib

    def label_end(self, snapshot: pd.Timestamp) -> pd.Timestamp:
        """First month after the label window of `snapshot`."""
        return snapshot + pd.DateOffset(months=self.horizon)

    def describe(self) -> str:
        """One line for the log: the months of each slice."""

        def span(part: Sequence[pd.Timestamp]) -> str:
            if not part:
                return "none"
            first, last = part[0].strftime("%Y-%m"), part[-1].strftime("%Y-%m")
            return f"{first}..{last} ({len(part)})" if first != last else f"{first} (1)"

        return (
            f"train {span(self.train)}, valid {span(self.valid)}, calib {span(self.calib)}, "
            f"gap {span(self.gap)}, test {span(self.test)}"
        )

    def as_params(self) -> dict[str, str]:
        """The slices as flat strings for tracking (`split.test` -> "2024-03,2024-04")."""
        return {
            f"split.{name}": ",".join(s.strftime("%Y-%m") for s in getattr(self, name))
            for name in ("train", "valid", "calib", "test")
        }


def _sorted(snapshots: Sequence) -> list[pd.Timestamp]:
    return sorted({pd.Timestamp(s) for s in snapshots})


def _fit_pool(snapshots: list[pd.Timestamp], first_test: pd.Timestamp, horizon: int):
    """Snapshots whose label window ends by `first_test`, and the ones in the gap before it."""
    usable = [s for s in snapshots if s < first_test]
    pool = [s for s in usable if s + pd.DateOffset(months=horizon) <= first_test]
    gap = [s for s in usable if s not in set(pool)]
    return pool, gap


def _too_few(n: int, snapshots: list[pd.Timestamp], horizon: int) -> ConfigError:
    span = f"{snapshots[0]:%Y-%m} to {snapshots[-1]:%Y-%m}" if snapshots else "none"
    return ConfigError(
        f"Too few labelled snapshots to train: found {n} ({span}). With "
        f"labels.horizon_months={horizon} at least {horizon + 3} are needed (1 to train, 1 for "
        f"early stopping, 1 for calibration, {horizon - 1} left out as the gap, 1 to test). "
        "Use a longer extract, or lower labels.horizon_months or features.min_history_months."
    )


def plan_split(snapshots: Sequence, horizon: int, cfg: SplitConfig) -> TimeSplit:
    """The split of the labelled `snapshots` for training and the out-of-time test, shrinking the
    configured sizes when there are too few snapshots. Raises `ConfigError` when impossible."""
    snaps = _sorted(snapshots)
    sizes = {
        "test": cfg.test_snapshots,
        "calib": cfg.calib_snapshots,
        "valid": cfg.valid_snapshots,
        "train": cfg.min_train_snapshots,
    }
    for name, value in sizes.items():
        key = "min_train_snapshots" if name == "train" else f"{name}_snapshots"
        if value < 1:
            raise ConfigError(f"model.split.{key} must be at least 1; got {value}")
    while True:
        if len(snaps) > sizes["test"]:
            test = snaps[-sizes["test"] :]
            pool, gap = _fit_pool(snaps, test[0], horizon)
            if len(pool) >= sizes["calib"] + sizes["valid"] + sizes["train"]:
                break
        shrinkable = [k for k in sizes if sizes[k] > 1]
        if not shrinkable:
            raise _too_few(len(snaps), snaps, horizon)
        largest = max(shrinkable, key=lambda k: sizes[k])  # dict order breaks ties: test first
        sizes[largest] -= 1
    split = _slice_pool(pool, gap, test, horizon, sizes["valid"], sizes["calib"])
    wanted = (cfg.test_snapshots, cfg.calib_snapshots, cfg.valid_snapshots, cfg.min_train_snapshots)
    got = (sizes["test"], sizes["calib"], sizes["valid"], sizes["train"])
    if got != wanted:
        log.warning(
            "only %d labelled snapshots: the split shrank to test %d, calib %d, valid %d, "
            "min train %d (configured %d, %d, %d, %d)",
            len(snaps),
            *got,
            *wanted,
        )
    log.info("time split: %s", split.describe())
    return split


def _slice_pool(pool, gap, test, horizon: int, n_valid: int, n_calib: int) -> TimeSplit:
    calib = pool[-n_calib:]
    valid = pool[-(n_calib + n_valid) : -n_calib]
    train = pool[: -(n_calib + n_valid)]
    return TimeSplit(
        train=tuple(train),
        valid=tuple(valid),
        calib=tuple(calib),
        gap=tuple(gap),
        test=tuple(test),
        horizon=horizon,
    )


def split_before(snapshots: Sequence, test: Sequence, horizon: int, cfg: SplitConfig) -> TimeSplit:
    """A split whose test is the given `test` snapshots and whose fitting slices use only
    snapshots with a label window ending by the first of them (shrinking valid/calib if needed).
    Raises `ConfigError` when fewer than three snapshots remain to fit on."""
    snaps = _sorted(snapshots)
    test = _sorted(test)
    pool, gap = _fit_pool(snaps, test[0], horizon)
    n_valid, n_calib = cfg.valid_snapshots, cfg.calib_snapshots
    while len(pool) < n_valid + n_calib + cfg.min_train_snapshots and (n_valid > 1 or n_calib > 1):
        if n_calib >= n_valid:
            n_calib -= 1
        else:
            n_valid -= 1
    if len(pool) < n_valid + n_calib + 1:
        raise ConfigError(
            f"Too few labelled snapshots before {test[0]:%Y-%m} to fit a model: found "
            f"{len(pool)} whose {horizon}-month label window ends by then, at least 3 are needed. "
            "Lower model.backtest_folds or use a longer extract."
        )
    return _slice_pool(pool, gap, test, horizon, n_valid, n_calib)


def backtest_splits(snapshots: Sequence, horizon: int, cfg: SplitConfig, folds: int) -> list[TimeSplit]:
    """One split per origin: each of the last `folds` labelled snapshots, tested alone and fitted
    only on what came (with its whole label window) before it. Origins that leave too little to
    fit on are dropped with a warning; none left is a `ConfigError`."""
    if folds < 1:
        raise ConfigError(f"model.backtest_folds must be at least 1; got {folds}")
    snaps = _sorted(snapshots)
    out = []
    for origin in snaps[-folds:]:
        try:
            out.append(split_before(snaps, [origin], horizon, cfg))
        except ConfigError as err:
            log.warning("backtest origin %s skipped: %s", origin.strftime("%Y-%m"), err)
    if not out:
        raise _too_few(len(snaps), snaps, horizon)
    if len(out) < min(folds, len(snaps)):
        log.warning("backtest uses %d origins instead of %d", len(out), folds)
    return out


def with_sizes(cfg: SplitConfig, **sizes: int) -> SplitConfig:
    """A copy of `cfg` with some sizes changed (for tests and tuning)."""
    return replace(cfg, **sizes)
