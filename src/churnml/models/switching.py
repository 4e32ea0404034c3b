"""The switching-cost model: how deep a competitor discount has to be before an account leaves.

Training rows are competitor offers that carry a `price_gap` (−0.12 = 12 % cheaper than us),
each joined to the account's features at the start of the month the offer was seen (so the
features only know what came before it). The label is the `switch` label of that snapshot
("switched to a competitor within H months"). A LightGBM classifier with a monotone constraint
on `offer_discount` guarantees that a deeper discount never lowers the predicted probability.

An account's switching cost is the smallest discount on a grid (0 to the largest discount seen,
in `step`s) at which its probability reaches 0.5 (`model.switching_threshold`), or `inf`
("above the largest discount seen").

The model sees the discount and the account's structural features (`model.switching_features`,
by default the switching family plus custom share, product breadth, tenure and share of wallet):
offers are few, and a focused set ranks switching costs much better than every feature.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from churnml.config import ModelConfig
from churnml.constraints import check
from churnml.models.churn import booster_predict, category_levels, lgb_params, to_matrix, trimmed

log = logging.getLogger(__name__)

DISCOUNT = "offer_discount"
# Share of the newest offer months used to choose the tree count by early stopping.
_VALID_SHARE = 0.2


class NoOffers(Exception):
    """The data holds no competitor offer with a price gap that can be learned from."""


def switching_rows(frame: pd.DataFrame, offer_rows: pd.DataFrame) -> pd.DataFrame:
    """Offers joined to the features of their snapshot, kept where the `switch` label is known."""
    keys = frame[["account_id", "snapshot"]].astype({"account_id": str})
    merged = offer_rows.merge(keys.assign(_row=np.arange(len(frame))), on=["account_id", "snapshot"])
    rows = frame.iloc[merged["_row"].to_numpy()].copy()
    rows[DISCOUNT] = merged[DISCOUNT].to_numpy()
    labelled = rows["labelled"].astype(bool) & rows["switch"].notna()
    return rows.loc[labelled]


@dataclass
class SwitchingFit:
    """A fitted switching model and the discount grid its switching costs are read on."""

    booster: lgb.Booster
    features: list[str]  # account features; the discount column is added last
    levels: dict[str, list[str]]
    max_discount: float
    step: float
    threshold: float
    n_trees: int
    params: dict[str, Any]
    n_rows: int

    @property
    def grid(self) -> np.ndarray:
        """Discounts 0, step, 2·step, … up to the largest discount seen in training."""
        return np.round(np.arange(0.0, self.max_discount + self.step / 2, self.step), 6)

    def _matrix(self, frame: pd.DataFrame) -> pd.DataFrame:
        return to_matrix(frame, self.features, self.levels)

    def switch_probability(self, frame: pd.DataFrame, discount) -> np.ndarray:
        """Probability of switching within H months if offered `discount` (a number or one per row)."""
        x = self._matrix(frame)
        x[DISCOUNT] = np.broadcast_to(np.asarray(discount, dtype=float), len(x))
        return booster_predict(self.booster, x)

    def curve(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Switching probability of each row (index) at each grid discount (columns)."""
        x = self._matrix(frame)
        out = {}
        for d in self.grid:
            x[DISCOUNT] = d
            out[float(d)] = booster_predict(self.booster, x)
        return pd.DataFrame(out, index=frame.index)

    def switching_cost(self, frame: pd.DataFrame) -> pd.Series:
        """Smallest grid discount at which the probability reaches `threshold` (0.5); `inf`
        when none does."""
        x = self._matrix(frame)
        cost = np.full(len(x), np.inf)
        open_ = np.ones(len(x), dtype=bool)
        for d in self.grid:
            x[DISCOUNT] = d
            # The constraint makes the curve non-decreasing, so the first hit is the smallest.
            hit = open_ & (booster_predict(self.booster, x) >= self.threshold)
            cost[hit] = d
            open_ &= ~hit
            if not open_.any():
                break
        return pd.Series(cost, index=frame.index, name="switching_cost")


def switching_features(features: list[str], wanted: list[str]) -> list[str]:
    """The features of the switching model: `wanted` names families (from the feature
    dictionary) or single features, "all" means every feature; those absent are skipped. When
    none is present (e.g. `features=orders_only` without the structural ones), every feature."""
    from churnml.features.dictionary import FEATURES

    if "all" in wanted:
        return list(features)
    chosen = [
        f for f in features if f in wanted or (f in FEATURES and FEATURES[f].family in wanted)
    ]
    if not chosen:
        log.warning("none of model.switching_features %s is in the data: the switching model uses every feature", wanted)
        return list(features)
    return chosen


def fit_switching(rows: pd.DataFrame, features: list[str], cfg: ModelConfig) -> SwitchingFit:
    """Fit the monotone switching model on `switching_rows` with the `model.switching_features`
    among `features`. The tree count is chosen by early stopping on the newest offer months,
    then the model is refitted on all offers. Raises `NoOffers` when there is nothing to learn from."""
    if rows.empty or rows["switch"].nunique() < 2:
        raise NoOffers(
            f"{len(rows)} labelled competitor offers with a price gap"
            + ("" if rows.empty else " and all with the same outcome")
        )
    check(cfg, "model")
    started = time.perf_counter()
    features = switching_features(features, list(cfg.switching_features))
    levels = category_levels(rows, features)
    columns = [*features, DISCOUNT]
    constraints = [0] * len(features) + [1]
    params = lgb_params(
        cfg.switching,
        cfg.seed,
        cfg.num_threads,
        monotone_constraints=constraints,
        monotone_constraints_method="advanced",
        metric="binary_logloss",
    )

    def matrix(part: pd.DataFrame) -> pd.DataFrame:
        x = to_matrix(part, features, levels)
        x[DISCOUNT] = part[DISCOUNT].to_numpy(dtype=float)
        return x[columns]

    y = rows["switch"].to_numpy(dtype=float)
    months = np.sort(rows["snapshot"].unique())
    n_trees = cfg.switching.n_estimators
    cut = months[int(len(months) * (1 - _VALID_SHARE))] if len(months) >= 5 else None
    if cut is not None:
        early = rows["snapshot"] < cut
        late = ~early
        if rows.loc[early, "switch"].nunique() == 2 and rows.loc[late, "switch"].nunique() == 2:
            dtrain = lgb.Dataset(matrix(rows[early]), label=y[early.to_numpy()])
            dvalid = lgb.Dataset(matrix(rows[late]), label=y[late.to_numpy()], reference=dtrain)
            probe = lgb.train(
                params,
                dtrain,
                num_boost_round=cfg.switching.n_estimators,
                valid_sets=[dvalid],
                callbacks=[lgb.early_stopping(cfg.switching.early_stopping_rounds, verbose=False)],
            )
            n_trees = probe.best_iteration or probe.current_iteration()
    booster = lgb.train(params, lgb.Dataset(matrix(rows), label=y), num_boost_round=n_trees)
    booster = trimmed(booster, n_trees)
    max_discount = float(max(rows[DISCOUNT].max(), 0.0))
    log.info(
        "switching model: %d trees on %d offers (%.1f %% switched), %d features, discounts up to %.1f %% (%.1fs)",
        n_trees,
        len(rows),
        100 * y.mean(),
        len(features),
        100 * max_discount,
        time.perf_counter() - started,
    )
    return SwitchingFit(
        booster=booster,
        features=list(features),
        levels=levels,
        max_discount=max_discount,
        step=cfg.switching_grid_step,
        threshold=cfg.switching_threshold,
        n_trees=n_trees,
        params=params,
        n_rows=len(rows),
    )
