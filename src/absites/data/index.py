"""The complex index: one row per antibody–antigen complex with its chain roles.

Columns read (others are kept in :attr:`ComplexEntry.extra`): ``complex_id``,
``pdb_id``, ``heavy_chain``, ``light_chain`` (``NA`` or empty: single-domain
antibody), ``antigen_chains`` (``;``-separated), ``split``, ``primary``
(absent: every row is primary), ``file`` (relative to the index's folder).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from absites.errors import DataIndexError
from absites.structure.complex import ChainRoles

REQUIRED_COLUMNS = ("complex_id", "heavy_chain", "light_chain", "antigen_chains", "file")


@dataclass(frozen=True)
class ComplexEntry:
    complex_id: str
    path: Path
    roles: ChainRoles
    pdb_id: str = ""
    split: str = ""
    extra: dict[str, str] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class SplitSpec:
    """Which index rows form one part of a benchmark: ``column == value``, optionally only rows whose
    ``sets`` column (``;``-separated) lists ``sets`` (e.g. the docking-benchmark complexes of a split)."""

    value: str
    column: str = "split"
    sets: str | None = None
    index: str | None = None  # another index for this part (e.g. a leakage-filtered pool from ``absites split``)

    @classmethod
    def of(cls, split: "str | SplitSpec", column: str = "split") -> "SplitSpec":
        return split if isinstance(split, SplitSpec) else cls(split, column)

    @property
    def tag(self) -> str:
        """A file-name-safe label, e.g. ``split-val-abag_docking_bm5.5``."""
        tag = f"{self.column}-{self.value}" + (f"-{self.sets}" if self.sets else "")
        return tag + (f"-{Path(self.index).parent.name}-{Path(self.index).stem}" if self.index else "")

    def describe(self) -> str:
        where = f" of {self.index}" if self.index else ""
        return f"{self.column} == {self.value}" + (f" and sets ∋ {self.sets}" if self.sets else "") + where


def _light(value: str) -> str | None:
    value = (value or "").strip()
    return None if value in ("", "NA", "None", "-") else value


def read_index(
    index_path: str | Path,
    split: str | None = None,
    primary_only: bool = True,
    ids: list[str] | None = None,
    split_column: str = "split",
    sets: str | None = None,
    skipped: list[tuple[str, str]] | None = None,
) -> list[ComplexEntry]:
    """Read an index CSV into entries whose ``path`` is absolute.

    Args:
        split: keep rows whose ``split_column`` equals this (e.g. ``train``).
        primary_only: drop rows with ``primary == 0``.
        ids: keep only these complex ids (or PDB ids).
        sets: keep only rows whose ``sets`` column (``;``-separated) lists this set.
        skipped: when given, a bad row (no id, no file, unusable chain roles) is appended here as
            ``(complex id or "row N", reason)`` and the others are read; otherwise it raises.

    Raises:
        DataIndexError: the file is missing or lacks a required column (or a row is bad and
            ``skipped`` is None).
    """
    index_path = Path(index_path)
    if not index_path.exists():
        raise DataIndexError(f"index not found: {index_path}")
    with index_path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        columns = reader.fieldnames or []
        missing = [c for c in REQUIRED_COLUMNS if c not in columns]
        if missing:
            raise DataIndexError(f"{index_path}: missing column(s) {', '.join(missing)}")
        if split is not None and split_column not in columns:
            raise DataIndexError(f"{index_path}: no column {split_column!r} to select split {split!r}")
        if sets is not None and "sets" not in columns:
            raise DataIndexError(f"{index_path}: no column 'sets' to select set {sets!r}")
        rows = list(reader)
    wanted = {i.lower() for i in ids} if ids else None
    entries = []
    for lineno, row in enumerate(rows, 2):
        if primary_only and row.get("primary", "1").strip() == "0":
            continue
        if split is not None and row.get(split_column, "") != split:
            continue
        if sets is not None and sets not in [v.strip() for v in row.get("sets", "").split(";")]:
            continue
        cid = (row["complex_id"] or "").strip()
        if wanted is not None and cid.lower() not in wanted and (row.get("pdb_id") or "").lower() not in wanted:
            continue
        try:
            if not cid:
                raise ValueError("empty complex_id")
            if not (row["file"] or "").strip():
                raise ValueError("empty file column")
            roles = ChainRoles(
                heavy=(row["heavy_chain"] or "").strip(),
                light=_light(row["light_chain"]),
                antigen=tuple(c.strip() for c in (row["antigen_chains"] or "").replace("|", ";").split(";")
                              if c.strip()),
            )
        except Exception as exc:
            reason = f"{index_path}:{lineno} ({cid or 'no id'}): bad row: {exc}"
            if skipped is None:
                raise DataIndexError(reason) from None
            skipped.append((cid or f"row {lineno}", reason))
            continue
        known = set(REQUIRED_COLUMNS) | {"pdb_id", "split"}
        entries.append(
            ComplexEntry(
                complex_id=cid,
                path=(index_path.parent / row["file"].strip()).resolve(),
                roles=roles,
                pdb_id=row.get("pdb_id", "").strip(),
                split=row.get("split", "").strip(),
                extra={k: v for k, v in row.items() if k not in known and k is not None},
            )
        )
    return entries
