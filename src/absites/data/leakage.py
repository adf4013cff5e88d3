"""Leakage control: training pools from several indexes, with held-out complexes kept out by id and by
antigen similarity.

Two regimes (:func:`filter_pool`):

* ``id`` (id-disjoint): a pool entry is removed when it shares its PDB entry with a held-out complex
  or carries the same antibody (identical CDR sequences, Chothia, no flanks).
* ``antigen`` (antigen-disjoint): additionally removed when any of its antigen chains is at least
  ``threshold`` identical (default 0.7) to an antigen chain of a held-out complex.

Sequence identity of two chains = identical aligned positions / length of the shorter chain, from a
global alignment (BLOSUM62, gap open -10, extend -0.5; Biopython's ``PairwiseAligner``). Prefilter,
exact: a score-only alignment with match 1, mismatch 0 and free gaps gives the longest common
subsequence, an upper bound on the identical positions of every alignment; pairs whose bound is
below the threshold are never aligned. :func:`antigen_clusters` groups a set of complexes by the
same identity (single linkage), to say how redundant a pool is.

The sequences of an entry come from its structure file (first model, the index's chains) and are
cached as JSON next to the other records (key: file digest + chains).
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from absites.data.cache import _atomic_write, file_digest
from absites.data.index import ComplexEntry, read_index
from absites.errors import AbsitesError, DataIndexError

log = logging.getLogger(__name__)

REGIMES = ("id", "antigen")


@dataclass(frozen=True)
class EntrySequences:
    """What leakage is judged on: the PDB entry, the antibody's CDRs and the antigen chains."""

    complex_id: str
    pdb_id: str
    cdrs: str  # H1/H2/H3/L1/L2/L3 sequences joined by "/" (Chothia, no flanks); "" if unnumbered
    antigen: tuple[str, ...]


def entry_sequences(entry: ComplexEntry, cache_dir: str | Path | None = None) -> EntrySequences:
    """The sequences of one index entry (cached when ``cache_dir`` is given).

    Raises:
        AbsitesError: the structure cannot be read or numbered.
    """
    key = None
    if cache_dir is not None:
        payload = json.dumps({"file": file_digest(entry.path), "roles": entry.roles.key(), "v": 1}, sort_keys=True)
        key = Path(cache_dir) / "sequences" / f"{hashlib.sha256(payload.encode()).hexdigest()[:32]}.json"
        if key.exists():
            try:
                d = json.loads(key.read_text())
                return EntrySequences(entry.complex_id, entry.pdb_id or d["pdb_id"], d["cdrs"], tuple(d["antigen"]))
            except (ValueError, KeyError, OSError):
                pass  # rebuilt below
    from absites.structure.complex import load_complex
    from absites.structure.numbering import CDR_NAMES, annotate_antibody

    c = load_complex(entry.path, entry.roles, entry.complex_id)
    s = c.structure
    annotation = annotate_antibody(c, "chothia", 0)
    cdrs = "/".join("".join(_one_letter(n) for n in s.res_name[annotation.cdr == i + 1])
                    for i in range(len(CDR_NAMES)))
    antigen = tuple(s.sequence(ch) for ch in entry.roles.antigen)
    pdb_id = (entry.pdb_id or entry.complex_id[:4]).lower()
    out = EntrySequences(entry.complex_id, pdb_id, cdrs, antigen)
    if key is not None:
        _atomic_write(key, json.dumps({"pdb_id": pdb_id, "cdrs": cdrs, "antigen": list(antigen)}).encode())
    return out


def _one_letter(name: str) -> str:
    from absites.structure.residues import ONE_LETTER

    return ONE_LETTER.get(name, "X")


def sequences_of(entries: list[ComplexEntry], cache_dir: str | Path | None = None,
                 workers: int = 1) -> tuple[dict[str, EntrySequences], list[tuple[str, str]]]:
    """Sequences of many entries (in parallel); entries that fail are returned as (id, reason)."""
    from joblib import Parallel, delayed

    def one(e):
        try:
            return e.complex_id, entry_sequences(e, cache_dir), ""
        except AbsitesError as exc:
            return e.complex_id, None, str(exc)
        except Exception as exc:  # noqa: BLE001 - recorded, never loses the pool
            return e.complex_id, None, f"unexpected {type(exc).__name__}: {exc}"

    results = Parallel(n_jobs=workers)(delayed(one)(e) for e in entries) if workers > 1 else map(one, entries)
    found, failed = {}, []
    for cid, seqs, why in results:
        if seqs is None:
            failed.append((cid, why))
        else:
            found[cid] = seqs
    return found, failed


class Identity:
    """Pairwise sequence identity (over the shorter chain) with an exact LCS prefilter; memoised."""

    def __init__(self):
        from Bio.Align import PairwiseAligner, substitution_matrices

        self._bound = PairwiseAligner(mode="global", match_score=1.0, mismatch_score=0.0, gap_score=0.0)
        self._align = PairwiseAligner(mode="global")
        self._align.substitution_matrix = substitution_matrices.load("BLOSUM62")
        self._align.open_gap_score, self._align.extend_gap_score = -10.0, -0.5
        self._align.end_gap_score = 0.0  # fragments and domains: no penalty for overhangs
        self._memo: dict[tuple[str, str], float] = {}

    def alignment(self, a: str, b: str):
        """The best global alignment of ``a`` and ``b`` (the one identity is counted on)."""
        return self._align.align(a, b)[0]

    def __call__(self, a: str, b: str, at_least: float = 0.0) -> float:
        """Identity of ``a`` and ``b``; a value below ``at_least`` may be the LCS upper bound instead."""
        if not a or not b:
            return 0.0
        key = (a, b) if a <= b else (b, a)
        if key in self._memo:
            return self._memo[key]
        shorter = min(len(a), len(b))
        bound = self._bound.score(a, b) / shorter
        if bound < at_least:
            return bound  # not memoised: a later call may ask for the exact value
        value = self._align.align(a, b)[0].counts().identities / shorter
        self._memo[key] = value
        return value


@dataclass(frozen=True)
class Removal:
    complex_id: str
    reason: str  # same_pdb | same_antibody | similar_antigen | no_sequences
    held_out: str = ""  # the held-out complex it is too close to
    identity: float = 0.0


def filter_pool(pool: dict[str, EntrySequences], held_out: dict[str, EntrySequences], regime: str = "antigen",
                threshold: float = 0.7, identity: Identity | None = None) -> tuple[list[str], list[Removal]]:
    """(kept complex ids, removals with the reason and the held-out complex responsible).

    Raises:
        AbsitesError: unknown regime or threshold outside (0, 1].
    """
    if regime not in REGIMES:
        raise AbsitesError(f"regime must be one of {', '.join(REGIMES)}, not {regime!r}")
    if not 0.0 < threshold <= 1.0:
        raise AbsitesError(f"antigen identity threshold must be in (0, 1], not {threshold}")
    identity = identity or Identity()
    pdbs = {s.pdb_id.lower(): cid for cid, s in held_out.items()}
    cdrs = {s.cdrs: cid for cid, s in held_out.items() if s.cdrs.replace("/", "")}
    kept, removed = [], []
    for cid, s in pool.items():
        if cid in held_out or s.pdb_id.lower() in pdbs:
            removed.append(Removal(cid, "same_pdb", pdbs.get(s.pdb_id.lower(), cid)))
            continue
        if s.cdrs.replace("/", "") and s.cdrs in cdrs:
            removed.append(Removal(cid, "same_antibody", cdrs[s.cdrs], 1.0))
            continue
        if regime == "antigen":
            best, who = 0.0, ""
            for hid, h in held_out.items():
                for a in s.antigen:
                    for b in h.antigen:
                        v = identity(a, b, at_least=threshold)
                        if v > best:
                            best, who = v, hid
            if best >= threshold:
                removed.append(Removal(cid, "similar_antigen", who, round(best, 3)))
                continue
        kept.append(cid)
    return kept, removed


def antigen_clusters(seqs: dict[str, EntrySequences], threshold: float = 0.7,
                     identity: Identity | None = None) -> dict[str, int]:
    """Single-linkage clusters of complexes whose antigens share a chain at ``threshold`` identity or more."""
    identity = identity or Identity()
    ids = list(seqs)
    parent = list(range(len(ids)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(ids)):
        for j in range(i + 1, len(ids)):
            if find(i) == find(j):
                continue
            if any(identity(a, b, at_least=threshold) >= threshold
                   for a in seqs[ids[i]].antigen for b in seqs[ids[j]].antigen):
                parent[find(i)] = find(j)
    roots: dict[int, int] = {}
    return {cid: roots.setdefault(find(i), len(roots)) for i, cid in enumerate(ids)}


# ---- index selections: "PATH" or "PATH::column=value|value;column=value" ----

def parse_selection(spec: str) -> tuple[Path, dict[str, set[str]]]:
    """``index.csv::split=test|val;primary=1`` -> (path, {column: allowed values})."""
    path, _, rest = spec.partition("::")
    rules: dict[str, set[str]] = {}
    for part in filter(None, (p.strip() for p in rest.split(";"))):
        column, eq, values = part.partition("=")
        if not eq or not column.strip():
            raise DataIndexError(f"bad selection {part!r} in {spec!r}: use column=value|value")
        rules[column.strip()] = {v.strip() for v in values.split("|")}
    return Path(path), rules


def select_entries(spec: str, skipped: list[tuple[str, str]] | None = None) -> list[ComplexEntry]:
    """The primary entries of an index that match a selection (every rule must hold)."""
    path, rules = parse_selection(spec)
    entries = read_index(path, skipped=skipped)
    with path.open(newline="") as fh:
        rows = {r["complex_id"].strip(): r for r in csv.DictReader(fh) if r.get("complex_id")}
    for column in rules:
        if rows and column not in next(iter(rows.values())):
            raise DataIndexError(f"{path}: no column {column!r} to select on")
    return [e for e in entries
            if all((rows[e.complex_id].get(c) or "").strip() in allowed for c, allowed in rules.items())]


def write_pool_index(entries: list[ComplexEntry], kept: list[str], path: str | Path, source_of: dict[str, str]) -> Path:
    """An index CSV of the kept entries that ``prepare`` / ``train`` read as any index (``split`` = train).

    Only the columns an index needs (ids, chains, file, where the row came from): no curation metadata is
    copied. ``file`` is relative to the new index's folder, so the pool works from any checkout that has
    the data at the same place relative to it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    keep = set(kept)
    cols = ["complex_id", "pdb_id", "heavy_chain", "light_chain", "antigen_chains", "split", "primary", "file",
            "source_index"]
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=cols)
        w.writeheader()
        for e in entries:
            if e.complex_id not in keep:
                continue
            w.writerow({"complex_id": e.complex_id, "pdb_id": e.pdb_id, "heavy_chain": e.roles.heavy,
                        "light_chain": e.roles.light or "NA", "antigen_chains": ";".join(e.roles.antigen),
                        "split": "train", "primary": "1", "file": os.path.relpath(e.path, path.parent.resolve()),
                        "source_index": source_of[e.complex_id]})
    return path


def removal_rows(removed: list[Removal]) -> list[dict]:
    return [asdict(r) for r in removed]
