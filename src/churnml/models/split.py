"""The time-ordered split: train, early-stopping validation, calibration, out-of-time test.

Labels look `horizon` months ahead, so a snapshot `t` "knows" the months `[t, t + H)`. A snapshot
may be used for fitting (training, early stopping or calibration) only when that window ends at
or before the first held-out snapshot; the snapshots in between form the gap and are not used.

Between train and validation a second gap keeps one churn event (labelled at up to H consecutive
snapshots, and easy to memorise by account) from sitting on both sides, which would make early
stopping and calibration trust an overfitted model.

With few labelled snapshots (a short extract) the configured sizes shrink one step at a time,
largest first, down to one snapshot each, then the inner gap; the split says what it used. Only when even that does
not fit is training impossible, which is a `ConfigError` (exit 2).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Sequence

import pandas as pd

from churnml.config import SplitConfig
from churnml.errors import ConfigError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TimeSplit:
    """Snapshots of each slice, oldest first. `gap` are labelled snapshots left out because
    their label window reaches into the test; `inner_gap` those left out between train and
    validation so that one churn event (labelled at up to H consecutive snapshots) does not
    sit on both sides, which would flatter early stopping and calibration."""

    train: tuple[pd.Timestamp, ...]
    inner_gap: tuple[pd.Timestamp, ...]
    valid: tuple[pd.Timestamp, ...]
    calib: tuple[pd.Timestamp, ...]
    gap: tuple[pd.Timestamp, ...]
    test: tuple[pd.Timestamp, ...]
    horizon: int

    @property
    def fit_snapshots(self) -> tuple[pd.Timestamp, ...]:
        """Every snapshot something is fitted on (trees, early stopping, calibration)."""
        return self.train + self.valid + self.calib

    def describe(self) -> str:
        """One line for the log: the months of each slice."""

        def span(part: Sequence[pd.Timestamp]) -> str:
            if not part:
                return "none"
            first, last = part[0].strftime("%Y-%m"), part[-1].strftime("%Y-%m")
            return f"{first}..{last} ({len(part)})" if first != last else f"{first} (1)"

        return (
            f"train {span(self.train)}, gap {span(self.inner_gap)}, valid {span(self.valid)}, "
            f"calib {span(self.calib)}, gap {span(self.gap)}, test {span(self.test)}"
        )

    def as_params(self) -> dict[str, str]:
        """The slices as flat strings for tracking (`split.test` -> "2024-03,2024-04")."""
        return {
            f"split.{name}": ",".join(s.strftime("%Y-%m") for s in getattr(self, name))
            for name in ("train", "valid", "calib", "test")
        }


def _sorted(snapshots: Sequence) -> list[pd.Timestamp]:
    return sorted({pd.Timestamp(s) for s in snapshots})


def _months_later(s: pd.Timestamp, months: int) -> pd.Timestamp:
    return s + pd.DateOffset(months=months)


def _arrange(snaps, test, horizon: int, sizes: dict[str, int]) -> TimeSplit | None:
    """The split for `test` with these sizes, or None when the snapshots do not suffice.
    `sizes["inner"]` is how many months after a train snapshot validation may start (H = the
    full label window, 1 = no gap)."""
    first_test = test[0]
    usable = [s for s in snaps if s < first_test]
    pool = [s for s in usable if _months_later(s, horizon) <= first_test]
    n_calib, n_valid = sizes["calib"], sizes["valid"]
    if len(pool) < n_calib + n_valid + 1:
        return None
    calib = pool[len(pool) - n_calib :]
    valid = pool[len(pool) - n_calib - n_valid : len(pool) - n_calib]
    rest = pool[: len(pool) - n_calib - n_valid]
    train = [s for s in rest if _months_later(s, sizes["inner"]) <= valid[0]]
    if len(train) < sizes["train"]:
        return None
    return TimeSplit(
        train=tuple(train),
        inner_gap=tuple(s for s in rest if s not in set(train)),
        valid=tuple(valid),
        calib=tuple(calib),
        gap=tuple(s for s in usable if s not in set(pool)),
        test=tuple(test),
        horizon=horizon,
    )


def _shrink(sizes: dict[str, int], names: tuple[str, ...]) -> bool:
    """Take one step off the largest of `names` above 1 (ties: in the order given); then off the
    inner gap. False when nothing can shrink any more."""
    shrinkable = [k for k in names if sizes[k] > 1]
    if shrinkable:
        sizes[max(shrinkable, key=lambda k: sizes[k])] -= 1
        return True
    if sizes["inner"] > 1:
        sizes["inner"] -= 1
        return True
    return False


def _too_few(n: int, snapshots: list[pd.Timestamp], horizon: int) -> ConfigError:
    span = f"{snapshots[0]:%Y-%m} to {snapshots[-1]:%Y-%m}" if snapshots else "none"
    return ConfigError(
        f"Too few labelled snapshots to train: found {n} ({span}). With "
        f"labels.horizon_months={horizon} at least {horizon + 3} are needed (1 to train, 1 for "
        f"early stopping, 1 for calibration, {horizon - 1} left out as the gap, 1 to test). "
        "Use a longer extract, or lower labels.horizon_months or features.min_history_months."
    )


def _check_sizes(cfg: SplitConfig) -> None:
    for key in ("test_snapshots", "calib_snapshots", "valid_snapshots", "min_train_snapshots"):
        value = getattr(cfg, key)
        if value < 1:
            raise ConfigError(f"model.split.{key} must be at least 1; got {value}")


def plan_split(snapshots: Sequence, horizon: int, cfg: SplitConfig) -> TimeSplit:
    """The split of the labelled `snapshots` for training and the out-of-time test, shrinking the
    configured sizes (largest first, then the gap between train and validation) when there are
    too few snapshots. Raises `ConfigError` when even the smallest split does not fit."""
    _check_sizes(cfg)
    snaps = _sorted(snapshots)
    sizes = {
        "test": cfg.test_snapshots,
        "calib": cfg.calib_snapshots,
        "valid": cfg.valid_snapshots,
        "train": cfg.min_train_snapshots,
        "inner": horizon,
    }
    wanted = dict(sizes)
    while True:
        split = None
        if len(snaps) > sizes["test"]:
            split = _arrange(snaps, snaps[-sizes["test"] :], horizon, sizes)
        if split is not None:
            break
        if not _shrink(sizes, ("test", "calib", "valid", "train")):
            raise _too_few(len(snaps), snaps, horizon)
    if sizes != wanted:
        log.warning(
            "only %d labelled snapshots: the split shrank to test %d, calib %d, valid %d, min train %d, "
            "train-to-validation gap %d months (configured %d, %d, %d, %d, %d)",
            len(snaps),
            *sizes.values(),
            *wanted.values(),
        )
    log.info("time split: %s", split.describe())
    return split


def split_before(snapshots: Sequence, test: Sequence, horizon: int, cfg: SplitConfig) -> TimeSplit:
    """A split whose test is the given `test` snapshots and whose fitting slices use only
    snapshots with a label window ending by the first of them (shrinking like `plan_split`).
    Raises `ConfigError` when too few snapshots remain to fit on."""
    _check_sizes(cfg)
    snaps, test = _sorted(snapshots), _sorted(test)
    sizes = {
        "calib": cfg.calib_snapshots,
        "valid": cfg.valid_snapshots,
        "train": cfg.min_train_snapshots,
        "inner": horizon,
    }
    while (split := _arrange(snaps, test, horizon, sizes)) is None:
        if not _shrink(sizes, ("calib", "valid", "train")):
            raise ConfigError(
                f"Too few labelled snapshots before {test[0]:%Y-%m} to fit a model: at least 3 are "
                f"needed whose {horizon}-month label window ends by then. "
                "Lower model.backtest_folds or use a longer extract."
            )
    return split


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
