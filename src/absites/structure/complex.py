"""Antibody–antigen complexes: a :class:`Structure` plus chain roles."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from absites.errors import ChainError
from absites.structure.parse import Structure, read_structure

ROLE_HEAVY, ROLE_LIGHT, ROLE_ANTIGEN = "H", "L", "Ag"
ROLES: tuple[str, ...] = (ROLE_HEAVY, ROLE_LIGHT, ROLE_ANTIGEN)


@dataclass(frozen=True)
class ChainRoles:
    """Which chains are the antibody heavy / light chains and which are antigen.

    ``light`` is None for single-domain antibodies (nanobodies, VNARs). ``alone``: one protein without
    its partner (``absites predict --antibody ab.pdb`` or ``--antigen ag.pdb`` alone): either no antigen
    chain, or no antibody chain (``heavy`` empty).
    """

    heavy: str
    light: str | None
    antigen: tuple[str, ...]
    alone: bool = False

    def __post_init__(self) -> None:
        if self.alone:
            if bool(self.heavy) == bool(self.antigen) or (self.light and not self.heavy):
                raise ChainError("one protein alone: give antibody chains or antigen chains, not both")
        elif not self.heavy:
            raise ChainError("a heavy chain id is required")
        elif not self.antigen:
            raise ChainError("at least one antigen chain id is required")
        chains = self.antibody + self.antigen
        if len(set(chains)) != len(chains):
            raise ChainError(f"chain ids overlap between roles: H={self.heavy} L={self.light} Ag={','.join(self.antigen)}")

    @property
    def antibody(self) -> tuple[str, ...]:
        if not self.heavy:
            return ()
        return (self.heavy,) if self.light is None else (self.heavy, self.light)

    @property
    def all_chains(self) -> tuple[str, ...]:
        return self.antibody + self.antigen

    def role_of(self, chain: str) -> str:
        if chain == self.heavy:
            return ROLE_HEAVY
        if chain == self.light:
            return ROLE_LIGHT
        return ROLE_ANTIGEN

    def key(self) -> str:
        return f"H={self.heavy};L={self.light or ''};Ag={','.join(self.antigen)}"


@dataclass(frozen=True, eq=False)
class Complex:
    """The antibody and antigen chains of one structure, residues in file order.

    Shapes:
        res_role: ``(R,)`` str in :data:`ROLES`.
        is_antibody: ``(R,)`` bool.
    """

    complex_id: str
    structure: Structure
    roles: ChainRoles
    res_role: np.ndarray
    is_antibody: np.ndarray

    @property
    def is_antigen(self) -> np.ndarray:
        return ~self.is_antibody

    @property
    def atom_is_antibody(self) -> np.ndarray:
        return self.is_antibody[self.structure.atom_residue]


def make_complex(structure: Structure, roles: ChainRoles, complex_id: str | None = None) -> Complex:
    """Restrict ``structure`` to the chains of ``roles`` and tag each residue.

    Raises:
        ChainError: a chain of ``roles`` is missing or holds no protein residues.
    """
    sub = structure.select_chains(roles.all_chains)
    res_role = np.array([roles.role_of(c) for c in sub.res_chain])
    cid = complex_id or f"{Path(structure.source).name.split('.')[0]}_{roles.heavy}{roles.light or ''}_{''.join(roles.antigen)}"
    return Complex(
        complex_id=cid,
        structure=sub,
        roles=roles,
        res_role=res_role,
        is_antibody=res_role != ROLE_ANTIGEN,
    )


def load_complex(path: str | Path, roles: ChainRoles, complex_id: str | None = None) -> Complex:
    """Read a file and build the :class:`Complex` for ``roles``."""
    return make_complex(read_structure(path), roles, complex_id)
