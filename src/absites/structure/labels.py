"""The interface label, defined once for residues (and later surface vertices).

A residue of one protein is *binding* when any of its heavy atoms lies within
``cutoff_angstrom`` (default 4.5 Å, inclusive) of any heavy atom of the partner
protein. Paratope labels: antibody residues against all antigen chains;
epitope labels: antigen residues against all antibody chains (heavy + light).
Hydrogens never count: the parser drops them.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from absites.errors import NoContactError
from absites.structure.complex import Complex

DEFAULT_CUTOFF_ANGSTROM = 4.5


def atom_partner_distance(complex_: Complex, within_angstrom: float | None = None) -> np.ndarray:
    """Distance (Å) from every atom to the nearest heavy atom of the other protein. Shape ``(A,)``.

    ``within_angstrom``: distances beyond it come back as ``inf``. Every caller only asks whether an atom is
    within the contact cutoff, and a bounded k-d tree search stops early for the many atoms far from the
    interface. The bound is widened by 1e-6 Å so that a distance exactly at it is still returned exactly.
    """
    bound = np.inf if within_angstrom is None else float(within_angstrom) + 1e-6
    coords = complex_.structure.atom_coords.astype(np.float64)
    on_ab = complex_.atom_is_antibody
    dist = np.empty(coords.shape[0], dtype=np.float64)
    for mine in (on_ab, ~on_ab):
        partner = coords[~mine]
        if partner.shape[0] == 0 or not mine.any():
            dist[mine] = np.inf
            continue
        dist[mine], _ = cKDTree(partner).query(coords[mine], k=1, distance_upper_bound=bound)
    return dist


def interface_labels(complex_: Complex, cutoff_angstrom: float = DEFAULT_CUTOFF_ANGSTROM) -> np.ndarray:
    """Binding label of every residue (paratope on antibody, epitope on antigen).

    Returns:
        Bool array of shape ``(R,)``.
    """
    atom_contact = atom_partner_distance(complex_, cutoff_angstrom) <= cutoff_angstrom
    per_residue = np.bincount(
        complex_.structure.atom_residue, weights=atom_contact, minlength=complex_.structure.n_residues
    )
    return per_residue > 0


def require_contact(complex_: Complex, labels: np.ndarray, cutoff_angstrom: float) -> None:
    """Raise :class:`NoContactError` when no residue of either side is labelled binding."""
    if not labels[complex_.is_antibody].any() or not labels[complex_.is_antigen].any():
        r = complex_.roles
        raise NoContactError(
            f"{complex_.structure.source}: antibody chains {'+'.join(r.antibody)} and antigen chains "
            f"{'+'.join(r.antigen)} have no heavy atoms within {cutoff_angstrom} Å of each other"
        )


def vertex_labels(
    vertex_atom: np.ndarray, atom_distance: np.ndarray, residue_labels: np.ndarray, atom_residue: np.ndarray,
    cutoff_angstrom: float = DEFAULT_CUTOFF_ANGSTROM,
) -> np.ndarray:
    """Binding label of surface vertices: the same rule, carried to the mesh.

    A vertex binds when its nearest heavy atom lies within ``cutoff_angstrom`` of
    the partner *and* that atom's residue binds (the reference pipeline's rule;
    the second condition is implied by the first and kept explicit).

    Args:
        vertex_atom: ``(V,)`` nearest-atom index per vertex (complex atom indexing).
        atom_distance: ``(A,)`` from :func:`atom_partner_distance`.
        residue_labels: ``(R,)`` from :func:`interface_labels`.
    """
    return (atom_distance[vertex_atom] <= cutoff_angstrom) & residue_labels[atom_residue[vertex_atom]]
