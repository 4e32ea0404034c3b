"""Which data a model was trained on, so that a project can hold the demo and a user's own data
side by side without ever mixing them.

A data source is its kind (`synthetic`, `files`, `sql`) and its name, `data.name`: empty for the
built-in demo world, by default the folder's (or database's) name for the others. The name keeps
everything of a source apart: features in `data/features/<name>/`, lists in `data/scores/<name>/`,
the export in `models/<name>/`, and the registry aliases `champion-<name>` / `challenger-<name>`
(the demo keeps plain `champion`). Every model records its source, where it was read (the folder,
or the database URL without a password: shown, not compared, since a monthly export may land in
a new folder each month) and a fingerprint of its accounts, whose sketch tells later whether
other data holds the same accounts.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from churnml.errors import ConfigError


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9_-]+", "-", str(text).lower()).strip("-_")


def source_name(kind: str | None, folder: str | None, url: str | None) -> str:
    """The default `data.name`: '' for the demo world, the folder's name for files, the
    database's name for SQL (letters, digits, '-' and '_' only)."""
    if kind == "synthetic":
        return ""
    if kind == "sql" and url:
        base = str(url).split("?", 1)[0].rstrip("/")  # the query string holds options, not the name
        tail = re.split(r"[/:@]", base)[-1]
        return _slug(Path(tail).stem) or "sql"
    return _slug(Path(str(folder or "")).name) or str(kind or "data")


def check_name(name: str) -> str:
    """`name` when it is a usable `data.name` (a path segment and part of an alias)."""
    if name and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", name):
        raise ConfigError(
            f"`data.name` must be letters, digits, '-' and '_' (it names folders and registry aliases); got {name!r}"
        )
    return name


# The two roles a registered model can have for a data source (its registry aliases).
CHAMPION = "champion"
CHALLENGER = "challenger"

@dataclass(frozen=True)
class DataSource:
    """Kind, location and name of the data a run reads."""

    kind: str
    location: str
    name: str

    @property
    def label(self) -> str:
        """How the source reads in messages: "files /srv/exports/crm (data.name=crm)"."""
        return f"{self.kind} {self.location}" + (f" (data.name={self.name})" if self.name else " (the demo)")

    def alias(self, role: str) -> str:
        """The registry alias of `role` ("champion", "challenger") for this source."""
        return f"{role}-{self.name}" if self.name else role

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "location": self.location, "name": self.name}

    def as_tags(self) -> dict[str, str]:
        """The source as MLflow run tags (`data.kind`, `data.location`, `data.name`)."""
        return {f"data.{k}": v for k, v in self.as_dict().items()}

    def matches(self, recorded: Mapping[str, Any] | None) -> bool:
        """Whether a model's recorded source is this one (same kind and name)."""
        return bool(recorded) and (recorded.get("kind"), recorded.get("name", "")) == (self.kind, self.name)


def data_source(data_cfg: Any) -> DataSource:
    """The data source a data config reads (no I/O)."""
    from churnml.data.load import catalog_table, safe_url

    kind = str(data_cfg.source)
    if kind == "sql":
        location = safe_url(data_cfg.url or "")
    elif kind == "spark_tables":
        names = {t: catalog_table(data_cfg, t) for t in (data_cfg.tables or {})}
        location = "catalog " + ", ".join(f"{t}={n}" for t, n in names.items() if n)
    else:
        location = str(Path(str(data_cfg.dir)).expanduser().resolve())
    return DataSource(kind, location, check_name(str(getattr(data_cfg, "name", "") or "")))


def describe(recorded: Mapping[str, Any] | None) -> str:
    """A recorded source (a model's `info["source"]`) in words."""
    if not recorded:
        return "an unrecorded data source"
    return DataSource(recorded.get("kind", "?"), recorded.get("location", "?"), recorded.get("name", "")).label


SKETCH_SIZE = 256  # account hashes kept with a model: enough to tell 50 % overlap from 90 %
SAME_ACCOUNTS_MIN = 0.5  # at least this share of a model's accounts must be in data it compares or scores


def _hashes(account_ids: pd.Series) -> pd.Index:
    ids = pd.Index(pd.Series(account_ids).dropna().astype(str).unique())
    return pd.Index([hashlib.sha256(i.encode("utf-8")).hexdigest()[:16] for i in ids])


def account_fingerprint(account_ids: pd.Series) -> dict[str, Any]:
    """How many distinct accounts, a hash of all their ids (the same accounts give the same
    hash, whatever their order), and a sketch: the smallest `SKETCH_SIZE` id hashes, a uniform
    sample of the accounts that later data can be checked against without the ids themselves."""
    hashes = _hashes(account_ids).sort_values()
    digest = hashlib.sha256("\n".join(hashes).encode("utf-8")).hexdigest()
    return {"accounts": len(hashes), "accounts_sha256": digest, "accounts_sketch": list(hashes[:SKETCH_SIZE])}


def share_of_accounts_present(recorded: Mapping[str, Any] | None, account_ids: pd.Series) -> float | None:
    """The estimated share of a model's accounts (its recorded sketch) that are in `account_ids`;
    None when the model recorded no sketch."""
    sketch = (recorded or {}).get("accounts_sketch")
    if not sketch:
        return None
    return float(pd.Index(sketch).isin(_hashes(account_ids)).mean())


def check_same_accounts(recorded: Mapping[str, Any] | None, account_ids: pd.Series, what: str) -> None:
    """Raise `ConfigError` when the data holds too few of the accounts a model was trained on:
    another company's or business unit's export under the same name."""
    share = share_of_accounts_present(recorded, account_ids)
    if share is not None and share < SAME_ACCOUNTS_MIN:
        raise ConfigError(
            f"{what} was trained on {describe(recorded)}, but only about {share:.0%} of its accounts are "
            f"in this data: it is other data under the same name. Give it its own name (data.name=<name>) "
            "so the two never mix"
        )


# Overrides that say where things are, not what was run: they stay out of a run's name.
_WHERE = ("paths.", "data.dir", "data.url", "data.tables.", "data.name", "mlflow.", "hydra.", "score.as_of",
          "today")
_NAME_CHARS = 120


def run_name(stage: str, source: DataSource, now: datetime | None = None, overrides: tuple[str, ...] = ()) -> str:
    """An MLflow run name that says what, on which data, with which changes and when:
    "train crm features=orders_only 2026-12-01 09:30" (the command line's overrides, but not the
    ones that only say where things are)."""
    now = now or datetime.now(timezone.utc)
    changes = " ".join(o for o in overrides if not o.lstrip("+~").startswith(_WHERE))
    if len(changes) > _NAME_CHARS:
        changes = changes[: _NAME_CHARS - 1] + "…"
    return " ".join(part for part in (stage, source.name or "demo", changes, f"{now:%Y-%m-%d %H:%M}") if part)
