"""Structure stage: parse PDB/mmCIF, assign chain roles, number antibodies, label interfaces."""

from absites.structure.complex import ChainRoles, Complex, make_complex
from absites.structure.parse import Structure, read_structure

__all__ = ["ChainRoles", "Complex", "Structure", "make_complex", "read_structure"]
