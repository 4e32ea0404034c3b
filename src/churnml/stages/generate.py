"""`churnml generate`: simulate the synthetic key-account world and write it to `data.dir`.

Writes the seven contract tables as `<data.dir>/<table>.<data.format>` and the ground truth to
`<data.dir>/truth/` (`hazard`, `accounts`, and `figures.json` with the world's calibration figures:
churn rate, the oracle's out-of-time AUC, the best single column's AUC, revenue concentration).
Every file is replaced atomically; running it again regenerates the world.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import date
from pathlib import Path
from typing import Any


from churnml.errors import ConfigError
from churnml.stages import RunContext

log = logging.getLogger(__name__)


def _check_synthetic(data_cfg: Any) -> None:
    if getattr(data_cfg, "source", None) != "synthetic" or not hasattr(data_cfg, "accounts"):
        raise ConfigError(
            "churnml generate writes the synthetic world and needs data=synthetic; "
            f"got data.source={getattr(data_cfg, 'source', None)!r}"
        )


def generate_to_dir(data_cfg: Any, today: date, labels_cfg: Any = None) -> dict[str, Any]:
    """Generate the world `data_cfg` describes, write it to `data_cfg.dir`; returns its figures.

    `labels_cfg` (horizon, retained share, scope) sets how the calibration figures are measured;
    None uses the defaults.
    """
    from churnml.data.synthetic import generate_world
    from churnml.data.synthetic_figures import world_figures
    from churnml.io import check_format, write_text, write_world

    _check_synthetic(data_cfg)
    check_format(data_cfg.format)
    folder = Path(data_cfg.dir).expanduser()
    began = time.perf_counter()
    world = generate_world(
        data_cfg.accounts, data_cfg.months, data_cfg.start, data_cfg.seed, data_cfg.world, today, progress=True
    )
    rows = {name: len(frame) for name, frame in world.tables.items()}
    log.info(
        "simulated %d accounts over %d months from %s (seed %d) in %.1f s: %s",
        data_cfg.accounts, world.months, f"{world.start:%Y-%m}", data_cfg.seed, time.perf_counter() - began,
        ", ".join(f"{name} {count:,}" for name, count in rows.items()),
    )
    existing = sorted(p.name for p in folder.glob(f"*.{data_cfg.format}")) if folder.is_dir() else []
    if existing:
        log.info("replacing the %d table file(s) already in %s", len(existing), folder)
    began = time.perf_counter()
    paths = write_world(world, folder, data_cfg.format)
    size = sum(p.stat().st_size for p in paths)
    log.info("wrote %d files (%.1f MB) to %s in %.1f s", len(paths), size / 1e6, folder, time.perf_counter() - began)

    label_args = {}
    if labels_cfg is not None:
        label_args = dict(
            horizon=labels_cfg.horizon_months,
            retained_share=labels_cfg.retained_share,
            scope_months=labels_cfg.scope_months,
            lost_window_months=labels_cfg.lost_window_months,
        )
    figures = world_figures(world, **label_args)
    write_text(folder / "truth" / "figures.json", json.dumps(figures, indent=2) + "\n")
    truth = world.truth["accounts"]
    churned = truth["churn_month"].notna()
    reasons = ", ".join(f"{k} {v}" for k, v in truth.loc[churned, "churn_reason"].value_counts().items())
    log.info("ground truth: %d accounts churned (%s)", churned.sum(), reasons or "none")
    if figures["oracle_auc"] is None:
        log.info("the world is too short for calibration figures (it needs labelled snapshots from month 12 on)")
    else:
        log.info(
            "calibration: %.0f %% of losses recorded in outcomes; in-scope churn rate %.1f %%; oracle AUC %.3f "
            "(out-of-time); best single column %s AUC %.3f; top 20 %% of accounts hold %.0f %% of revenue",
            100 * figures["recorded_share"], 100 * figures["churn_rate"], figures["oracle_auc"],
            figures["best_feature"], figures["best_feature_auc"], 100 * figures["top20_revenue_share"],
        )
    return figures


def ensure_synthetic(data_cfg: Any, today: date, labels_cfg: Any = None) -> bool:
    """Generate the synthetic world into `data_cfg.dir` only when that folder holds no tables.

    Returns True when it generated. Does nothing (False) for a non-synthetic data source.
    """
    from churnml.data.load import table_files

    if getattr(data_cfg, "source", None) != "synthetic":
        return False
    found = table_files(data_cfg)
    if found:
        log.info("using the %d table(s) already in %s (delete them to regenerate)", len(found), data_cfg.dir)
        return False
    log.info("no tables in %s: generating the synthetic world", data_cfg.dir)
    generate_to_dir(data_cfg, today, labels_cfg)
    return True


def run_stage(ctx: RunContext) -> None:
    """Generate the synthetic world into data.dir (always regenerates)."""
    from churnml.stages.validate import today_from_config

    generate_to_dir(ctx.config.data, today_from_config(ctx.config), ctx.config.labels)
