"""Which data a model was trained on, so that a project can hold the demo and a user's own data
side by side without ever mixing them.

A data source is its kind (`synthetic`, `files`, `sql`), its location (the folder, or the
database URL without a password) and its name, `data.name`: empty for the built-in demo world,
by default the folder's (or database's) name for the others. The name keeps everything of a
source apart: features in `data/features/<name>/`, lists in `data/scores/<name>/`, the export in
`models/<name>/`, and the registry aliases `champion-<name>` / `challenger-<name>` (the demo keeps
plain `champion`). Every model records its source and a fingerprint of the accounts it saw.
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
        tail = re.split(r"[/:@?]", str(url).rstrip("/"))[-1]
        return _slug(Path(tail).stem) or "sql"
    return _slug(Path(str(folder or "")).name) or str(kind or "data")


def check_name(name: str) -> str:
    """`name` when it is a usable `data.name` (a path segment and part of an alias)."""
    if name and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", name):
        raise ConfigError(
            f"`data.name` must be letters, digits, '-' and '_' (it names folders and registry aliases); got {name!r}"
        )
    return name


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
        """Whether a model's recorded source is this one (same kind and location)."""
        return bool(recorded) and (recorded.get("kind"), recorded.get("location")) == (self.kind, self.location)


def data_source(data_cfg: Any) -> DataSource:
    """The data source a data config reads (no I/O)."""
    from churnml.data.load import safe_url

    kind = str(data_cfg.source)
    if kind == "sql":
        location = safe_url(data_cfg.url or "")
    else:
        location = str(Path(str(data_cfg.dir)).expanduser().resolve())
    return DataSource(kind, location, check_name(str(getattr(data_cfg, "name", "") or "")))


def describe(recorded: Mapping[str, Any] | None) -> str:
    """A recorded source (a model's `info["source"]`) in words."""
    if not recorded:
        return "an unrecorded data source"
    return DataSource(recorded.get("kind", "?"), recorded.get("location", "?"), recorded.get("name", "")).label


def account_fingerprint(account_ids: pd.Series) -> dict[str, Any]:
    """How many distinct accounts, and a hash of their sorted ids (the same accounts give the
    same hash, whatever their order)."""
    ids = sorted(set(map(str, account_ids.dropna())))
    digest = hashlib.sha256("\n".join(ids).encode("utf-8")).hexdigest()
    return {"accounts": len(ids), "accounts_sha256": digest}


def run_name(stage: str, source: DataSource, now: datetime | None = None) -> str:
    """An MLflow run name that says what, on which data and when: "train crm 2026-12-01 09:30"."""
    now = now or datetime.now(timezone.utc)
    return f"{stage} {source.name or 'demo'} {now:%Y-%m-%d %H:%M}"
