"""Compare ANARCI CDRs with a file's own residue numbering (validation only).

Used by the tests and by ``bench/bench_numbering.py``. A chain's file numbering
counts as Chothia when (a) at least 95% of its framework residues (outside
Chothia CDRs ±3) carry ANARCI's Chothia numbers, and (b) over the whole variable
domain it agrees with ANARCI's Chothia numbering at least as well as with its
Kabat numbering (the two schemes differ only in where CDR-H1 / L1 insertions
go). Neither test looks at which residues fall in CDRs, so comparing CDR sets
afterwards remains a real check.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from absites.structure.complex import Complex
from absites.structure.numbering import cdr_codes_from_positions, number_complex


@dataclass(frozen=True)
class ChainCheck:
    chain: str
    kind: str
    file_scheme: str  # chothia | kabat | other
    cdr_agree: bool
    n_differ: int


def check_file_numbering(complex_: Complex, flank: int = 0) -> list[ChainCheck]:
    s = complex_.structure
    chothia, kabat = number_complex(complex_, "chothia"), number_complex(complex_, "kabat")
    out = []
    for chain, num in chothia.items():
        kind = "H" if chain == complex_.roles.heavy else "L"
        idx = np.flatnonzero(s.res_chain == chain)
        file_pos = [(int(s.res_seqnum[i]), str(s.res_icode[i])) for i in idx]
        numbered = [k for k, p in enumerate(num.positions) if p is not None]
        wide = cdr_codes_from_positions(num.positions, kind, "chothia", 3)
        framework = [k for k in numbered if wide[k] == 0]
        fw_agree = np.mean([file_pos[k] == num.positions[k] for k in framework])
        agree_c = np.mean([file_pos[k] == num.positions[k] for k in numbered])
        agree_k = np.mean([file_pos[k] == kabat[chain].positions[k] for k in numbered])
        scheme = "other" if fw_agree < 0.95 else ("chothia" if agree_c >= agree_k else "kabat")
        ours = cdr_codes_from_positions(num.positions, kind, "chothia", flank) > 0
        theirs = cdr_codes_from_positions(file_pos, kind, "chothia", flank) > 0
        out.append(ChainCheck(chain, kind, scheme, bool(np.array_equal(ours, theirs)), int((ours != theirs).sum())))
    return out
