"""Amino-acid vocabulary and per-residue physico-chemical constants.

Sources of the constants:

* Meiler features: J. Meiler, M. Müller, A. Zeidler, F. Schmäschke (2001),
  "Generation and evaluation of dimension-reduced amino acid parameter
  representations by artificial neural networks", J. Mol. Model. 7:360-369,
  Table 1 (steric parameter, polarizability, volume, hydrophobicity,
  isoelectric point, helix probability, sheet probability).
* Maximum accessible surface areas: M. Z. Tien et al. (2013), "Maximum
  allowed solvent accessibilites of residues in proteins", PLoS ONE 8:e80635,
  theoretical values (Å²).
"""

from __future__ import annotations

import numpy as np

AMINO_ACIDS: tuple[str, ...] = (
    "ALA", "ARG", "ASN", "ASP", "CYS", "GLN", "GLU", "GLY", "HIS", "ILE",
    "LEU", "LYS", "MET", "PHE", "PRO", "SER", "THR", "TRP", "TYR", "VAL",
)
UNK = "UNK"
VOCAB: tuple[str, ...] = AMINO_ACIDS + (UNK,)
AA_INDEX: dict[str, int] = {name: i for i, name in enumerate(VOCAB)}
UNK_INDEX = AA_INDEX[UNK]
ONE_LETTER: dict[str, str] = {
    "ALA": "A", "ARG": "R", "ASN": "N", "ASP": "D", "CYS": "C", "GLN": "Q",
    "GLU": "E", "GLY": "G", "HIS": "H", "ILE": "I", "LEU": "L", "LYS": "K",
    "MET": "M", "PHE": "F", "PRO": "P", "SER": "S", "THR": "T", "TRP": "W",
    "TYR": "Y", "VAL": "V", "UNK": "X",
}

# Modified residues read as their parent amino acid (MSE -> MET is the
# common case in crystal structures; the others are frequent in the PDB).
MODIFIED_PARENT: dict[str, str] = {
    "MSE": "MET", "SEP": "SER", "TPO": "THR", "PTR": "TYR", "HYP": "PRO",
    "MLY": "LYS", "M3L": "LYS", "CSO": "CYS", "CSD": "CYS", "CME": "CYS",
    "CSS": "CYS", "KCX": "LYS", "LLP": "LYS", "PCA": "GLU", "NEP": "HIS",
    "HIC": "HIS", "CGU": "GLU", "TYS": "TYR", "SAC": "SER", "FME": "MET",
    "ASX": "ASN", "GLX": "GLN", "HSD": "HIS", "HSE": "HIS", "HSP": "HIS",
    "HID": "HIS", "HIE": "HIS", "HIP": "HIS", "CYX": "CYS",
}

# Polymer residues that are nucleotides, not amino acids: never protein.
NUCLEOTIDES: frozenset[str] = frozenset(
    {"A", "C", "G", "U", "T", "I", "N", "DA", "DC", "DG", "DT", "DU", "DI", "DN"}
)

WATERS: frozenset[str] = frozenset({"HOH", "WAT", "DOD", "H2O", "SOL", "TIP", "TIP3"})

MEILER_NAMES: tuple[str, ...] = (
    "steric", "polarizability", "volume", "hydrophobicity",
    "isoelectric_point", "helix_probability", "sheet_probability",
)
MEILER: dict[str, tuple[float, ...]] = {
    "ALA": (1.28, 0.05, 1.00, 0.31, 6.11, 0.42, 0.23),
    "ARG": (2.34, 0.29, 6.13, -1.01, 10.74, 0.36, 0.25),
    "ASN": (1.60, 0.13, 2.95, -0.60, 6.52, 0.21, 0.22),
    "ASP": (1.60, 0.11, 2.78, -0.77, 2.95, 0.25, 0.20),
    "CYS": (1.77, 0.13, 2.43, 1.54, 6.35, 0.17, 0.41),
    "GLN": (1.56, 0.18, 3.95, -0.22, 5.65, 0.36, 0.25),
    "GLU": (1.56, 0.15, 3.78, -0.64, 3.09, 0.42, 0.21),
    "GLY": (0.00, 0.00, 0.00, 0.00, 6.07, 0.13, 0.15),
    "HIS": (2.99, 0.23, 4.66, 0.13, 7.69, 0.27, 0.30),
    "ILE": (4.19, 0.19, 4.00, 1.80, 6.04, 0.30, 0.45),
    "LEU": (2.59, 0.19, 4.00, 1.70, 6.04, 0.39, 0.31),
    "LYS": (1.89, 0.22, 4.77, -0.99, 9.99, 0.32, 0.27),
    "MET": (2.35, 0.22, 4.43, 1.23, 5.71, 0.38, 0.32),
    "PHE": (2.94, 0.29, 5.89, 1.79, 5.67, 0.30, 0.38),
    "PRO": (2.67, 0.00, 2.72, 0.72, 6.80, 0.13, 0.34),
    "SER": (1.31, 0.06, 1.60, -0.04, 5.70, 0.20, 0.28),
    "THR": (3.03, 0.11, 2.60, 0.26, 5.60, 0.21, 0.36),
    "TRP": (3.21, 0.41, 8.08, 2.25, 5.94, 0.32, 0.42),
    "TYR": (2.94, 0.30, 6.47, 0.96, 5.66, 0.25, 0.41),
    "VAL": (3.67, 0.14, 3.00, 1.22, 6.02, 0.27, 0.49),
}

MAX_ASA_TIEN2013: dict[str, float] = {
    "ALA": 129.0, "ARG": 274.0, "ASN": 195.0, "ASP": 193.0, "CYS": 167.0,
    "GLN": 225.0, "GLU": 223.0, "GLY": 104.0, "HIS": 224.0, "ILE": 197.0,
    "LEU": 201.0, "LYS": 236.0, "MET": 224.0, "PHE": 240.0, "PRO": 159.0,
    "SER": 155.0, "THR": 172.0, "TRP": 285.0, "TYR": 263.0, "VAL": 174.0,
}


def meiler_table(standardize: bool = True) -> np.ndarray:
    """Meiler features for every token of :data:`VOCAB`.

    Args:
        standardize: z-score each feature over the 20 standard amino acids, so
            that no feature dominates by its unit (isoelectric points reach 10.7).

    Returns:
        Array of shape ``(21, 7)``. The UNK row is the mean over the 20 amino
        acids (zero after standardisation): an unknown residue carries no
        chemistry, and its UNK one-hot flag says so explicitly.
    """
    table = np.array([MEILER[aa] for aa in AMINO_ACIDS], dtype=np.float64)
    if standardize:
        table = (table - table.mean(axis=0)) / table.std(axis=0)
    unk = table.mean(axis=0, keepdims=True)
    return np.concatenate([table, unk], axis=0).astype(np.float32)


def max_asa_table() -> np.ndarray:
    """Maximum ASA (Å²) per :data:`VOCAB` token; UNK gets the 20-residue mean. Shape ``(21,)``."""
    values = np.array([MAX_ASA_TIEN2013[aa] for aa in AMINO_ACIDS], dtype=np.float64)
    return np.append(values, values.mean()).astype(np.float32)
