"""The evaluation plan: which labelled rows a model is fitted on and which it is judged on.

Labels look `horizon` (H) months ahead, so a snapshot `t` "knows" the months `[t, t + H)`.

- **out-of-time** (`oot`), whenever the extract allows it: the latest labelled snapshots are the
  test; every labelled snapshot whose label window ends by the first of them is fitted on; the
  ones in between (their window reaches into the test) are the gap. It needs
  `test + (H - 1) + min_fit_snapshots` labelled snapshots with at least one test snapshot; the
  test shrinks to one snapshot before the plan gives up.
- **account-disjoint holdout** (`holdout`), for extracts too short for that: a fixed share of the
  accounts (chosen by a hash of the account id and the seed, so the same accounts every run) is
  held out at the latest labelled snapshots; the other accounts are fitted on at every labelled
  snapshot. No account is on both sides. It is never called out-of-time.

The plan judges a procedure, not one frozen model. An out-of-time test is rolling-origin: each
test snapshot is an origin, judged by the procedure fitted on every snapshot labelled by it
(`origin_plans`); a holdout is one origin. The model that scores is the same procedure fitted on
every labelled snapshot (`final_plan`), so it has seen the newest complete label windows.

Inside the fitting rows, `inner_folds` gives the folds that choose the tree count and produce
the out-of-fold scores the calibrator is fitted on: time-ordered folds (each validation block
preceded by a gap of H months, so one churn event does not sit on both sides) where the fitting
snapshots allow it, otherwise folds of whole accounts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np
import pandas as pd

from churnml.config import ModelConfig, SplitConfig
from churnml.constraints import check, check_field
from churnml.errors import ConfigError

log = logging.getLogger(__name__)

OOT, HOLDOUT = "oot", "holdout"
PLAN_NAMES = {OOT: "out-of-time test", HOLDOUT: "account-disjoint holdout"}
# Fewer training snapshots than this in a time-ordered fold and the folds go by account instead.
_MIN_FOLD_TRAIN_SNAPSHOTS = 3


def account_buckets(ids: pd.Series | pd.Index, n: int, seed: int) -> np.ndarray:
    """A bucket in `0 .. n - 1` for each account id, from a hash of the id and `seed`: the same
    id always lands in the same bucket, whatever else is in the data."""
    key = f"churnml{int(seed):09d}"[-16:]
    hashed = pd.util.hash_pandas_object(pd.Index(pd.Series(ids).astype(str)), index=False, hash_key=key)
    return (hashed.to_numpy() % np.uint64(n)).astype(np.int64)


def in_holdout(ids: pd.Series | pd.Index, share: float, seed: int) -> np.ndarray:
    """True for the accounts of the holdout: about `share` of all ids, fixed by id and seed."""
    return account_buckets(ids, 10_000, seed) < int(round(share * 10_000))


@dataclass(frozen=True)
class Plan:
    """The snapshots fitted on, left out and tested, and for a holdout which accounts are held out.

    `fit` and `test` may share snapshots only in a holdout, where they never share an account."""

    kind: str  # OOT | HOLDOUT
    fit: tuple[pd.Timestamp, ...]
    gap: tuple[pd.Timestamp, ...]
    test: tuple[pd.Timestamp, ...]
    horizon: int
    holdout_share: float = 0.0
    seed: int = 0
    reason: str = ""  # one sentence: why this plan

    @property
    def name(self) -> str:
        return PLAN_NAMES[self.kind]

    def held_out(self, rows: pd.DataFrame) -> np.ndarray:
        """Mask of the rows' accounts that are held out (every account in an out-of-time test)."""
        if self.kind == OOT:
            return np.ones(len(rows), dtype=bool)
        return in_holdout(rows["account_id"], self.holdout_share, self.seed)

    def fit_mask(self, rows: pd.DataFrame) -> np.ndarray:
        """Rows the model may be fitted on."""
        at = rows["snapshot"].isin(self.fit).to_numpy()
        return at if self.kind == OOT else at & ~self.held_out(rows)

    def test_mask(self, rows: pd.DataFrame) -> np.ndarray:
        """Rows the model is judged on."""
        return rows["snapshot"].isin(self.test).to_numpy() & self.held_out(rows)

    def same_holdout(self, other: "Plan | None") -> bool:
        """Whether `other` held out the same accounts (same kind, share and seed)."""
        return (
            other is not None
            and other.kind == self.kind
            and (self.kind == OOT or (other.holdout_share, other.seed) == (self.holdout_share, self.seed))
        )

    def describe(self) -> str:
        """One line for the log: the plan and the months of each part."""
        text = f"{self.name}: fit {_span(self.fit)}, gap {_span(self.gap)}, test {_span(self.test)}"
        if self.kind == OOT and len(self.test) > 1:
            text += f", each test month judged by a refit on every snapshot labelled by it ({len(self.test)} origins)"
        if self.kind == HOLDOUT:
            text += f", {self.holdout_share:.0%} of the accounts held out"
        return text

    def as_params(self) -> dict[str, str]:
        """The plan as flat strings for tracking (`plan.test` -> "2024-03,2024-04")."""
        months = {f"plan.{name}": ",".join(s.strftime("%Y-%m") for s in getattr(self, name)) for name in ("fit", "test")}
        return {"plan.kind": self.kind, **months, "plan.holdout_share": str(self.holdout_share), "plan.reason": self.reason}


def _span(part: Sequence[pd.Timestamp]) -> str:
    if not part:
        return "none"
    first, last = part[0].strftime("%Y-%m"), part[-1].strftime("%Y-%m")
    return f"{first}..{last} ({len(part)})" if first != last else f"{first} (1)"


def _sorted(snapshots: Sequence) -> list[pd.Timestamp]:
    return sorted({pd.Timestamp(s) for s in snapshots})


def _months_later(s: pd.Timestamp, months: int) -> pd.Timestamp:
    return s + pd.DateOffset(months=months)


def origin_plans(plan: Plan, snapshots: Sequence) -> list[Plan]:
    """The origins that judge the procedure: for an out-of-time plan one plan per test snapshot,
    fitted on every labelled snapshot whose label window ends by it (the first origin's fit is
    the plan's own); a holdout is its own single origin."""
    if plan.kind != OOT:
        return [plan]
    snaps = _sorted(snapshots)
    return [oot_plan(snaps, [t], plan.horizon, plan.seed, reason=f"origin {t:%Y-%m}") for t in plan.test]


def final_plan(plan: Plan, snapshots: Sequence) -> Plan:
    """The plan of the model that scores: the same procedure fitted on every labelled snapshot
    (every account of a holdout too), nothing held out."""
    snaps = tuple(_sorted(snapshots))
    reason = f"the model that scores: fitted on all {len(snaps)} labelled snapshots ({_span(snaps)})"
    return replace(plan, fit=snaps, gap=(), test=(), holdout_share=0.0, reason=reason)


def check_split(cfg: SplitConfig) -> None:
    """Raise `ConfigError` naming the value when a split setting is not allowed."""
    check(cfg, "model.split")


def oot_needs(horizon: int, cfg: SplitConfig) -> int:
    """How many labelled snapshots an out-of-time test needs: 1 to test, H - 1 left out while
    its label window runs, `min_fit_snapshots` to fit on."""
    return 1 + (horizon - 1) + cfg.min_fit_snapshots


def oot_plan(snaps: list[pd.Timestamp], test: list[pd.Timestamp], horizon: int, seed: int = 0,
             reason: str = "") -> Plan:
    """The out-of-time plan testing `test`: fit on every snapshot whose label window ends by it."""
    fit = [s for s in snaps if _months_later(s, horizon) <= test[0]]
    gap = [s for s in snaps if s < test[0] and s not in set(fit)]
    return Plan(OOT, tuple(fit), tuple(gap), tuple(test), horizon, seed=seed, reason=reason)


def plan_evaluation(snapshots: Sequence, horizon: int, cfg: SplitConfig, seed: int) -> Plan:
    """The plan for these labelled `snapshots`: out-of-time whenever at least `min_fit_snapshots`
    can be fitted on before a test of at least one snapshot, else the account-disjoint holdout.
    Raises `ConfigError` when there is no labelled snapshot at all."""
    check_split(cfg)
    snaps = _sorted(snapshots)
    n = len(snaps)
    if n == 0:
        raise ConfigError(
            f"No labelled snapshot to train on: a snapshot is labelled once its {horizon}-month label "
            "window lies inside the data. Use a longer extract or lower labels.horizon_months."
        )
    need = oot_needs(horizon, cfg)
    for k in range(min(cfg.test_snapshots, n - 1), 0, -1):
        plan = oot_plan(snaps, snaps[-k:], horizon, seed)
        if len(plan.fit) >= cfg.min_fit_snapshots:
            reason = (
                f"{n} labelled snapshots: out-of-time test on the latest {k}, fitted on the "
                f"{len(plan.fit)} whose {horizon}-month label window ends before it"
            )
            if k < cfg.test_snapshots:
                log.warning("only %d labelled snapshots: the out-of-time test shrank to %d (configured %d)",
                            n, k, cfg.test_snapshots)
            return replace(plan, reason=reason)
    k = min(cfg.test_snapshots, n)
    reason = (
        f"the extract has {n} labelled snapshot{'s' if n != 1 else ''} ({_span(snaps)}); an "
        f"out-of-time test at horizon {horizon} needs at least {need} (1 to test, {horizon - 1} "
        f"left out while its label window runs, {cfg.min_fit_snapshots} to fit on), so "
        f"{cfg.holdout_share:.0%} of the accounts are held out at the latest {k} instead"
    )
    return Plan(HOLDOUT, tuple(snaps), (), tuple(snaps[-k:]), horizon, cfg.holdout_share, seed, reason)


def backtest_plans(snapshots: Sequence, horizon: int, cfg: SplitConfig, folds: int, seed: int = 0) -> list[Plan]:
    """One out-of-time plan per origin: each of the last `folds` labelled snapshots, tested alone
    and fitted on every snapshot whose label window ends by it. Origins with fewer than
    `min_fit_snapshots` to fit on are dropped with a warning; none left is a `ConfigError`."""
    check_split(cfg)
    check_field(ModelConfig, "backtest_folds", folds, "model.backtest_folds")
    snaps = _sorted(snapshots)
    out = []
    for origin in snaps[-folds:]:
        plan = oot_plan(snaps, [origin], horizon, seed, reason=f"backtest origin {origin:%Y-%m}")
        if len(plan.fit) >= cfg.min_fit_snapshots:
            out.append(plan)
        else:
            log.warning("backtest origin %s skipped: only %d snapshots to fit on before it (at least %d)",
                        origin.strftime("%Y-%m"), len(plan.fit), cfg.min_fit_snapshots)
    if not out:
        raise ConfigError(
            f"The extract is too short for a rolling-origin backtest: {len(snaps)} labelled snapshots, "
            f"an out-of-time origin at horizon {horizon} needs at least {oot_needs(horizon, cfg)}. "
            "`churnml train` still evaluates on an account-disjoint holdout."
        )
    if len(out) < min(folds, len(snaps)):
        log.warning("backtest uses %d origins instead of %d", len(out), folds)
    return out


@dataclass(frozen=True)
class Folds:
    """Positions (into the fitting rows) of each fold's training and validation rows."""

    scheme: str  # "time" | "accounts"
    parts: tuple[tuple[np.ndarray, np.ndarray], ...]

    def describe(self) -> str:
        word = "time-ordered" if self.scheme == "time" else "account"
        return f"{len(self.parts)} {word} folds"


def inner_folds(fit_rows: pd.DataFrame, plan: Plan, cfg: SplitConfig) -> Folds:
    """Folds of the fitting rows for the tree count and the out-of-fold calibration scores.

    Time-ordered for an out-of-time plan whose fitting snapshots allow `folds` validation
    snapshots, each with at least 3 earlier snapshots whose label window ends before it;
    otherwise `folds` groups of whole accounts (every fitting row gets one out-of-fold score)."""
    snaps = _sorted(fit_rows["snapshot"].unique())
    snapshot = fit_rows["snapshot"].to_numpy()
    if plan.kind == OOT:
        blocks = snaps[-cfg.folds:]
        parts = []
        for valid in blocks:
            train = [s for s in snaps if _months_later(s, plan.horizon) <= valid]
            if len(train) < _MIN_FOLD_TRAIN_SNAPSHOTS:
                break
            parts.append((np.flatnonzero(np.isin(snapshot, np.array(train, dtype="datetime64[ns]"))),
                          np.flatnonzero(snapshot == np.datetime64(valid, "ns"))))
        if len(parts) == len(blocks) and len(blocks) == cfg.folds:
            return Folds("time", tuple(parts))
    bucket = account_buckets(fit_rows["account_id"], cfg.folds, plan.seed + 1)
    parts = tuple((np.flatnonzero(bucket != k), np.flatnonzero(bucket == k)) for k in range(cfg.folds))
    return Folds("accounts", tuple(p for p in parts if len(p[0]) and len(p[1])))
