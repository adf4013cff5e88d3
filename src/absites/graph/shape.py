"""Shape descriptors of each residue within its own protein (what makes a residue stick out).

Epitopes sit on protruding, exposed, convex parts of an antigen; the RSA of one residue and its
kNN neighbourhood (what the residue graph carries) see only the first 10 Å of that. These
descriptors, classic inputs of structure-based epitope predictors (contact numbers at several
radii, half-sphere exposure, distance from the centre of mass), describe the protein's shape
around a residue at 8–24 Å. They are computed from the graph's coordinates of each protein on its
own (antibody H+L together, antigen chains together), so they never read the partner's pose.

Per residue (:data:`SHAPE_FEATURES`):

* ``contacts_8`` … ``contacts_24``: Cα atoms of its protein within 8, 12, 16, 24 Å (itself
  included), divided by r³/100 so that all radii share a scale (a density);
* ``hse_up`` / ``hse_down``: Cα atoms within 13 Å on the side-chain side of the residue (the half
  space the vector Cα → heavy-atom centroid points into) and on the other side, / 20 (half-sphere
  exposure: a protruding residue has few atoms above it);
* ``protrusion``: distance of its Cα from its protein's Cα centroid over the radius of gyration;
* ``log_size``: log of its protein's residue count;
* ``rsa_mean_10`` / ``rsa_mean_16``: mean RSA of its protein's residues within 10 / 16 Å (itself
  included): an exposed patch rather than one exposed residue.

Shapes: ``graph.pos_ca`` and ``graph.pos`` ``(R, 3)`` Å; the result is ``(R, 10)`` float32.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.spatial import cKDTree

from absites.graph.build import ResidueGraph

CONTACT_RADII = (8.0, 12.0, 16.0, 24.0)
HSE_RADIUS = 13.0
RSA_RADII = (10.0, 16.0)
SHAPE_FEATURES = (tuple(f"contacts_{int(r)}" for r in CONTACT_RADII)
                  + ("hse_up", "hse_down", "protrusion", "log_size")
                  + tuple(f"rsa_mean_{int(r)}" for r in RSA_RADII))


def shape_features(graph: ResidueGraph, proteins: tuple[str, ...] = ("antibody", "antigen")) -> np.ndarray:
    """``(R, len(SHAPE_FEATURES))`` float32 shape descriptors of every residue of ``proteins`` (see the module
    docstring); the rows of a protein left out are zero (a model that reads one protein's rows skips the other's
    work)."""
    out = np.zeros((graph.num_nodes, len(SHAPE_FEATURES)), dtype=np.float32)
    ab = graph.is_antibody.astype(bool)
    sides = {"antibody": ab, "antigen": ~ab}
    for side in (sides[p] for p in proteins):
        idx = np.flatnonzero(side)
        if idx.size:
            out[idx] = _protein_shape(graph.pos_ca[idx].astype(np.float64), graph.pos[idx].astype(np.float64),
                                      graph.rsa[idx].astype(np.float64))
    return out


def with_shape_features(graph: ResidueGraph) -> ResidueGraph:
    """``graph`` whose node features end with its shape descriptors (what a network reads)."""
    return dataclasses.replace(graph, x=np.concatenate([graph.x, shape_features(graph)], axis=1).astype(np.float32))


def _protein_shape(ca: np.ndarray, centroid: np.ndarray, rsa: np.ndarray) -> np.ndarray:
    n = len(ca)
    tree = cKDTree(ca)
    cols = [tree.query_ball_point(ca, r, return_length=True) / (r ** 3 / 100.0) for r in CONTACT_RADII]

    reach = max(HSE_RADIUS, *RSA_RADII)
    pairs = tree.query_pairs(reach, output_type="ndarray")
    i = np.concatenate([pairs[:, 0], pairs[:, 1]])  # both directions, self excluded
    j = np.concatenate([pairs[:, 1], pairs[:, 0]])
    offset = ca[j] - ca[i]
    dist = np.linalg.norm(offset, axis=1)

    direction = centroid - ca
    length = np.linalg.norm(direction, axis=1)
    flat = length < 1e-3  # no side-chain direction (a residue given by its Cα alone): outward from its neighbours
    if flat.any():
        near = dist <= HSE_RADIUS
        local = np.zeros_like(ca)
        np.add.at(local, i[near], ca[j[near]])
        count = np.bincount(i[near], minlength=n)[:, None]
        direction[flat] = (ca - local / np.maximum(count, 1))[flat]
        length = np.linalg.norm(direction, axis=1)
    direction = direction / np.maximum(length, 1e-6)[:, None]
    side = np.einsum("ec,ec->e", offset, direction[i])
    near = dist <= HSE_RADIUS
    cols.append(np.bincount(i[near & (side > 0)], minlength=n) / 20.0)
    cols.append(np.bincount(i[near & (side < 0)], minlength=n) / 20.0)

    centre = ca.mean(axis=0)
    radial = np.linalg.norm(ca - centre, axis=1)
    gyration = np.sqrt((radial ** 2).mean())
    cols.append(radial / gyration if gyration > 0 else np.zeros(n))
    cols.append(np.full(n, np.log(n)))

    for r in RSA_RADII:
        within = dist <= r
        total = np.bincount(i[within], weights=rsa[j[within]], minlength=n) + rsa
        cols.append(total / (np.bincount(i[within], minlength=n) + 1))
    return np.stack(cols, axis=1).astype(np.float32)
