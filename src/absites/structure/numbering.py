"""Antibody numbering with ANARCI and CDR masks from it.

Why ANARCI: it is the numbering tool behind SAbDab (the database every dataset
here comes from), it implements Chothia, Martin, Kabat, IMGT and AHo natively,
and it installs from PyPI with HMMER from the ``hmmer`` wheel. Numbering always
comes from the sequence, never from the residue numbers written in the file.

CDR definitions (inclusive ranges over the scheme's position numbers; any
insertion code inside a range belongs to it):

* ``chothia`` (Chothia numbering): H1 26-32, H2 52-56, H3 95-102,
  L1 24-34, L2 50-56, L3 89-97 (Al-Lazikani, Lesk & Chothia 1997).
* ``north`` (Chothia numbering): H1 23-35, H2 50-58, H3 93-102,
  L1 24-34, L2 49-56, L3 89-97 (North, Lehmann & Dunbrack 2011).
* ``imgt`` (IMGT numbering): 27-38, 56-65, 105-117 on both chains
  (Lefranc et al. 2003).

``flank`` extends every range by that many positions on each side: the
reference (Parapred, EPMP, PECAN) scores paratopes on Chothia CDRs ±2.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import shutil
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from absites.config import CDR_DEFINITION_NAMES
from absites.errors import ConfigError, NumberingError
from absites.structure.complex import ROLE_HEAVY, ROLE_LIGHT, Complex

log = logging.getLogger(__name__)

CDR_NAMES: tuple[str, ...] = ("H1", "H2", "H3", "L1", "L2", "L3")
# CDR code per residue: 0 = not a CDR, i + 1 = CDR_NAMES[i].

CDR_DEFINITIONS: dict[str, tuple[str, dict[str, tuple[int, int]]]] = {
    "chothia": ("chothia", {"H1": (26, 32), "H2": (52, 56), "H3": (95, 102),
                            "L1": (24, 34), "L2": (50, 56), "L3": (89, 97)}),
    "north": ("chothia", {"H1": (23, 35), "H2": (50, 58), "H3": (93, 102),
                          "L1": (24, 34), "L2": (49, 56), "L3": (89, 97)}),
    "imgt": ("imgt", {"H1": (27, 38), "H2": (56, 65), "H3": (105, 117),
                      "L1": (27, 38), "L2": (56, 65), "L3": (105, 117)}),
}
assert tuple(CDR_DEFINITIONS) == CDR_DEFINITION_NAMES  # the names configs accept


@dataclass(frozen=True)
class ChainNumbering:
    """Numbering of one chain. ``positions[i]`` is ``(number, icode)`` or None outside the V domain(s).

    ``kinds[i]`` is the domain (``"H"`` or ``"L"``) residue ``i`` belongs to, None outside; a chain holds
    two domains when it is a single-chain Fv (scFv), otherwise every numbered residue has the chain's kind.
    """

    chain: str
    chain_type: str  # ANARCI: H, K, L (or A, B, G, D for TCRs) of the domain the chain's role asks for
    positions: tuple[tuple[int, str] | None, ...]
    kinds: tuple[str | None, ...] = ()

    @property
    def is_scfv(self) -> bool:
        return len({k for k in self.kinds if k}) == 2


def _hmmer_path() -> str:
    """Folder holding ``hmmscan``: the ``hmmer`` wheel's own binaries first, then the running interpreter's bin
    folder (venvs), else PATH.

    The wheel installs ``bin/hmmscan`` as a Python entry point that starts an interpreter only to launch its
    bundled binary. Calling the binary directly took a complex's numbering from ~98 to ~61 ms (issue 14).
    """
    try:
        import hmmer

        bundled = Path(hmmer.BIN_DIR)
        if os.access(bundled / "hmmscan", os.X_OK):
            return str(bundled)
    except (ImportError, AttributeError):  # another HMMER install: the lookups below
        pass
    here = Path(sys.executable).parent
    if (here / "hmmscan").exists():
        return str(here)
    found = shutil.which("hmmscan")
    if found is None:
        raise NumberingError("hmmscan (HMMER) not found: install the 'hmmer' wheel (pip install absites does)")
    return os.path.dirname(found)


def number_domains(sequences: dict[str, str], scheme: str) -> dict[str, list[tuple[str, list]]]:
    """Run ANARCI once on several sequences; every variable domain of each chain (an scFv has two).

    Returns:
        chain id -> [(chain_type, [(sequence_index, (number, icode)), ...]), ...] in sequence order;
        chains with no immunoglobulin domain are absent.
    """
    if not sequences:  # an antigen alone
        return {}
    from anarci import anarci

    items = [(cid, seq.replace("X", "G")) for cid, seq in sequences.items()]  # ANARCI rejects X
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            # immunoglobulin chains only: TCR antigens would make Chothia numbering fail
            numbered, details, _ = anarci(items, scheme=scheme, output=False, hmmerpath=_hmmer_path(),
                                          allow={"H", "K", "L"})
    except Exception as exc:  # ANARCI raises bare Exceptions for bad input
        raise NumberingError(f"ANARCI failed on chains {', '.join(repr(c) for c in sequences)}: "
                             f"{str(exc)[:200]}") from None
    out: dict[str, list[tuple[str, list]]] = {}
    for (cid, seq), domains, info in zip(items, numbered, details):
        for d, (numbering, start, _end) in enumerate(domains or []):
            mapped = []
            i = start
            for (num, icode), aa in numbering:
                if aa == "-":
                    continue
                if i >= len(seq) or seq[i] != aa:
                    raise NumberingError(f"chain {cid}: ANARCI alignment does not match the sequence at index {i}")
                mapped.append((i, (int(num), icode.strip())))
                i += 1
            out.setdefault(cid, []).append((info[d]["chain_type"], mapped))
    return out


def number_sequences(sequences: dict[str, str], scheme: str) -> dict[str, tuple[str, list]]:
    """Run ANARCI once on several sequences.

    Returns:
        chain id -> (chain_type, list of (sequence_index, (number, icode))) for its
        first variable domain; chains with no immunoglobulin domain are absent.
    """
    return {cid: domains[0] for cid, domains in number_domains(sequences, scheme).items()}


def number_complex(complex_: Complex, scheme: str, allow_unnumbered: bool = False) -> dict[str, ChainNumbering]:
    """Number the antibody chains of ``complex_`` with ANARCI.

    A chain holding both a heavy and a light variable domain (a single-chain Fv) has both numbered, with
    a warning: its role's domain first, the other one too, so neither half loses its CDRs.
    ``allow_unnumbered``: a chain ANARCI cannot number (e.g. a shark VNAR, an engineered scaffold) is left
    out of the result with a warning instead of raising.

    Raises:
        NumberingError: a chain is not an immunoglobulin variable domain, or the
            heavy chain numbers as a light chain (or vice versa).
    """
    s = complex_.structure
    chains = complex_.roles.antibody
    result = number_domains({c: s.sequence(c) for c in chains}, scheme)
    out = {}
    for chain in chains:
        role = ROLE_HEAVY if chain == complex_.roles.heavy else ROLE_LIGHT
        if chain not in result and allow_unnumbered:
            log.warning("%s: ANARCI cannot number chain %s (given as %s): predicting it without numbering or "
                        "CDRs, every residue a paratope candidate; its scores are less reliable", s.source,
                        chain, "heavy" if role == ROLE_HEAVY else "light")
            continue
        if chain not in result:
            raise NumberingError(
                f"{s.source}: chain {chain} (given as {'heavy' if role == ROLE_HEAVY else 'light'}) "
                "has no antibody variable domain that ANARCI can number"
            )
        domains = result[chain]
        expected = ("H",) if role == ROLE_HEAVY else ("K", "L")
        wanted = [d for d in domains if d[0] in expected]
        if not wanted:
            raise NumberingError(
                f"{s.source}: chain {chain} is given as {'heavy' if role == ROLE_HEAVY else 'light'} "
                f"but ANARCI numbers it as a {domains[0][0]} chain"
            )
        chain_type = wanted[0][0]
        other = [d for d in domains if d[0] not in expected][:1]
        if other and role == ROLE_LIGHT and complex_.roles.light is not None:
            other = []  # a light chain carrying a heavy domain as well: keep its light role only
        n_res = int((s.res_chain == chain).sum())
        positions: list[tuple[int, str] | None] = [None] * n_res
        kinds: list[str | None] = [None] * n_res
        for dtype, mapped in [wanted[0], *other]:
            kind = "H" if dtype == "H" else "L"
            for i, pos in mapped:
                positions[i], kinds[i] = pos, kind
        if other:
            spans = {("H" if t == "H" else "L"): (m[0][0], m[-1][0]) for t, m in [wanted[0], *other] if m}
            log.warning("%s: chain %s holds two variable domains (single-chain Fv): numbering both (VH residues "
                        "%d-%d, VL residues %d-%d of the chain)", s.source, chain, spans["H"][0] + 1,
                        spans["H"][1] + 1, spans["L"][0] + 1, spans["L"][1] + 1)
        out[chain] = ChainNumbering(chain=chain, chain_type=chain_type, positions=tuple(positions),
                                    kinds=tuple(kinds))
    return out


def cdr_codes_from_positions(
    positions: list[tuple[int, str] | None] | tuple, chain_kind: str, definition: str, flank: int
) -> np.ndarray:
    """CDR code (0 = none, ``1 + CDR_NAMES.index``) for each numbered position of one chain.

    Args:
        positions: ``(number, icode)`` per residue, None for unnumbered residues.
        chain_kind: ``"H"`` or ``"L"``.
        definition: a key of :data:`CDR_DEFINITIONS`.
        flank: residues added on each side of every CDR (in position numbers).
    """
    _, ranges = _definition(definition)
    codes = np.zeros(len(positions), dtype=np.int64)
    for name, (lo, hi) in ranges.items():
        if name[0] != chain_kind:
            continue
        code = CDR_NAMES.index(name) + 1
        for i, pos in enumerate(positions):
            if pos is not None and lo - flank <= pos[0] <= hi + flank:
                codes[i] = code
    return codes


def _definition(definition: str) -> tuple[str, dict[str, tuple[int, int]]]:
    try:
        return CDR_DEFINITIONS[definition]
    except KeyError:
        raise ConfigError(
            f"unknown CDR definition {definition!r}; choose one of {', '.join(CDR_DEFINITIONS)}"
        ) from None


def scheme_for(definition: str) -> str:
    """The numbering scheme a CDR definition is written in."""
    return _definition(definition)[0]


@dataclass(frozen=True)
class AntibodyAnnotation:
    """Per-residue numbering and CDR codes over all residues of a complex.

    Shapes:
        cdr: ``(R,)`` int64, 0 outside CDRs and on the antigen.
        numbering: ``(R,)`` str such as ``"H31A"`` / ``"L95"``; empty when unnumbered.
    """

    scheme: str
    definition: str
    flank: int
    cdr: np.ndarray
    numbering: np.ndarray


def annotate_antibody(complex_: Complex, definition: str = "chothia", flank: int = 2,
                      allow_unnumbered: bool = False) -> AntibodyAnnotation:
    """Number the antibody of ``complex_`` and mark its CDR residues (with flanks); see :func:`number_complex`."""
    scheme = scheme_for(definition)
    numbered = number_complex(complex_, scheme, allow_unnumbered)
    s = complex_.structure
    cdr = np.zeros(s.n_residues, dtype=np.int64)
    numbering = np.full(s.n_residues, "", dtype=object)
    for chain, num in numbered.items():
        idx = np.flatnonzero(s.res_chain == chain)
        role_kind = "H" if chain == complex_.roles.heavy else "L"
        kinds = num.kinds or tuple(role_kind if p is not None else None for p in num.positions)
        for kind in ("H", "L"):  # an scFv chain holds both domains; other chains one
            mine = [p if k == kind else None for p, k in zip(num.positions, kinds)]
            if any(p is not None for p in mine):
                codes = cdr_codes_from_positions(mine, kind, definition, flank)
                cdr[idx] = np.where(codes > 0, codes, cdr[idx])
        numbering[idx] = [f"{k}{p[0]}{p[1]}" if p is not None else "" for p, k in zip(num.positions, kinds)]
    return AntibodyAnnotation(scheme, definition, flank, cdr, numbering.astype(str))
