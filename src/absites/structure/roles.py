"""Find antibody–antigen chain roles automatically.

1. Number every protein chain with ANARCI (one call): chains with a heavy (H)
   variable domain are heavy chains, K / L light chains; TCR chains and chains
   with no immunoglobulin domain are not antibody chains.
2. Pair each heavy chain with the light chain that packs against it (most Cα
   pairs within 8 Å between the two variable domains; at least 10); an unpaired
   heavy chain is a single-domain antibody (nanobody, VNAR).
3. The antigen of an antibody is every other protein chain (not an antibody
   chain) with a heavy atom within the contact cutoff of the antibody.

Several copies of a complex in one file give several :class:`ChainRoles`.
Antibodies with no antigen in contact are returned with ``antigen=()`` by
:func:`detect_antibodies` so that the caller can decide (unbound prediction).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from absites.errors import ChainError
from absites.structure.complex import ChainRoles
from absites.structure.numbering import number_domains
from absites.structure.parse import Structure

PAIRING_DISTANCE_ANGSTROM = 8.0
MIN_PAIRING_CONTACTS = 10


@dataclass(frozen=True)
class DetectedAntibody:
    heavy: str
    light: str | None
    antigen: tuple[str, ...]

    def roles(self) -> ChainRoles:
        return ChainRoles(self.heavy, self.light, self.antigen)


def _chain_types(structure: Structure) -> dict[str, str]:
    seqs = {c: structure.sequence(c) for c in structure.chains}
    numbered = number_domains({c: s for c, s in seqs.items() if len(s) >= 70}, "chothia")
    # a chain with a heavy domain is a heavy chain, also when a light domain comes first (a VL-VH scFv)
    types = {c: ("H" if any(t == "H" for t, _ in d) else d[0][0]) for c, d in numbered.items()}
    return {c: t for c, t in types.items() if t in ("H", "K", "L")}


def _ca(structure: Structure, chain: str) -> np.ndarray:
    sel = (structure.res_chain[structure.atom_residue] == chain) & (structure.atom_names == "CA")
    return structure.atom_coords[sel].astype(np.float64)


def _heavy_atoms(structure: Structure, chains) -> np.ndarray:
    return structure.atom_coords[np.isin(structure.res_chain[structure.atom_residue], list(chains))].astype(np.float64)


def chains_in_contact(structure: Structure, chains_a, chains_b, cutoff_angstrom: float = 4.5) -> bool:
    """Whether any atom of ``chains_a`` lies within ``cutoff_angstrom`` of any atom of ``chains_b``."""
    a, b = _heavy_atoms(structure, chains_a), _heavy_atoms(structure, chains_b)
    if len(a) == 0 or len(b) == 0:
        return False
    return bool(cKDTree(a).count_neighbors(cKDTree(b), cutoff_angstrom) > 0)


def detect_antibodies(structure: Structure, contact_angstrom: float = 4.5) -> list[DetectedAntibody]:
    """Every antibody (heavy [+ light]) in ``structure`` with its antigen chains in contact."""
    types = _chain_types(structure)
    heavies = [c for c in structure.chains if types.get(c) == "H"]
    lights = [c for c in structure.chains if types.get(c) in ("K", "L")]
    # greedy pairing by number of VH-VL Calpha contacts
    pairs = []
    for h in heavies:
        tree = cKDTree(_ca(structure, h))
        for light in lights:
            n = int(tree.count_neighbors(cKDTree(_ca(structure, light)), PAIRING_DISTANCE_ANGSTROM))
            if n >= MIN_PAIRING_CONTACTS:
                pairs.append((n, h, light))
    used_h, used_l, antibodies = set(), set(), []
    for _, h, light in sorted(pairs, reverse=True):
        if h not in used_h and light not in used_l:
            used_h.add(h)
            used_l.add(light)
            antibodies.append((h, light))
    antibodies += [(h, None) for h in heavies if h not in used_h]
    antibody_chains = set(heavies) | set(lights)
    others = [c for c in structure.chains if c not in antibody_chains]
    out = []
    for h, light in sorted(antibodies, key=lambda p: structure.chains.index(p[0])):
        antibody = [c for c in (h, light) if c]
        antigen = tuple(c for c in others if chains_in_contact(structure, antibody, [c], contact_angstrom))
        out.append(DetectedAntibody(h, light, antigen))
    return out


def detect_roles(structure: Structure, contact_angstrom: float = 4.5) -> list[ChainRoles]:
    """Chain roles of every antibody–antigen pair in contact.

    Raises:
        ChainError: no antibody chain, or no antibody touches another protein chain.
    """
    found = detect_antibodies(structure, contact_angstrom)
    if not found:
        raise ChainError(f"{structure.source}: no antibody chain found (ANARCI numbers no heavy-chain variable "
                         f"domain among protein chains {', '.join(structure.chains)})")
    in_contact = [a.roles() for a in found if a.antigen]
    if not in_contact:
        names = ", ".join(f"{a.heavy}{'+' + a.light if a.light else ''}" for a in found)
        raise ChainError(f"{structure.source}: antibody chains {names} touch no other protein chain; "
                         "give the antigen with --antigen (or use --antibody/--antigen files)")
    return in_contact
