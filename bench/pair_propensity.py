"""Does the antibody say where on the antigen it binds? An amino-acid pairing signal, against a swapped antibody.

Usage: python bench/pair_propensity.py [--bench gep-plus] [--radius 10] [--patch 10]

The hypothesis behind an antibody-conditioned epitope model, in its simplest form: paratope and epitope residues
pair by type (charge with opposite charge, aromatic with aromatic, ...), so the composition of an antibody's CDRs
should favour some antigen patches over others. From the benchmark's training pool it counts contact pairs
(a paratope and an epitope residue with Cα within ``--radius`` Å in the bound complex) by amino-acid type and
takes log-odds against the product of the two marginals (pseudocount 1): LO[a, b] > 0 where epitope type a meets
paratope type b more than their frequencies predict. An antigen residue of type a then scores
Σ_b w_b LO[a, b], w = the composition of the antibody's exposed CDR residues (RSA ≥ 0.15), averaged over the
exposed antigen residues within ``--patch`` Å (an epitope is a patch). Nothing of the pose enters a score.

Printed per split (val, test, and the bound complexes of the 94 docking cases): the mean over antigens of the within-antigen epitope AUROC of that score with the
complex's own antibody, and with the antibody of the next complex of the split (a control with the same
antigens and the same table: the difference is what the antibody itself tells).
"""

from __future__ import annotations

import argparse
import logging

import numpy as np
from scipy.spatial import cKDTree

from absites.config import FeatureConfig, load_data_config, load_feature_config
from absites.evaluate.bench_config import load_benchmark_config
from absites.evaluate.unbound import build_cases
from absites.metrics import auroc
from absites.structure.residues import AA_INDEX, VOCAB
from absites.train.run import load_split

EXPOSED = 0.15


def pair_log_odds(graphs, radius: float) -> np.ndarray:
    """``(V, V)`` log-odds of epitope type (rows) × paratope type (columns) in contact."""
    counts = np.zeros((len(VOCAB), len(VOCAB)))
    for g in graphs:
        ab, y = g.is_antibody.astype(bool), g.y.astype(bool)
        para, epi = np.flatnonzero(ab & y), np.flatnonzero(~ab & y)
        if not (len(para) and len(epi)):
            continue
        pairs = cKDTree(g.pos_ca[epi]).query_ball_tree(cKDTree(g.pos_ca[para]), radius)
        aa = np.array([AA_INDEX[r] for r in g.res_name])
        for i, near in zip(epi, pairs):
            np.add.at(counts[aa[i]], aa[para[near]], 1)
    expected = counts.sum(1, keepdims=True) * counts.sum(0, keepdims=True) / counts.sum()
    return np.log((counts + 1) / (expected + 1))


def patch_scores(antigen_graph, antibody_graph, table: np.ndarray, patch: float) -> np.ndarray:
    """Per antigen residue of ``antigen_graph``: the pairing score with ``antibody_graph``'s CDRs, patch-averaged."""
    hab = antibody_graph.is_antibody.astype(bool)
    cdrs = hab & (antibody_graph.cdr > 0) & (antibody_graph.rsa >= EXPOSED)
    w = np.bincount([AA_INDEX[r] for r in antibody_graph.res_name[cdrs]], minlength=len(VOCAB)) / max(1, cdrs.sum())
    ag = np.flatnonzero(~antigen_graph.is_antibody.astype(bool))
    score = (table @ w)[[AA_INDEX[r] for r in antigen_graph.res_name[ag]]]
    exposed = antigen_graph.rsa[ag] >= EXPOSED
    out = np.zeros(len(ag))
    for k, near in enumerate(cKDTree(antigen_graph.pos_ca[ag]).query_ball_point(antigen_graph.pos_ca[ag], patch)):
        near = [j for j in near if exposed[j]]
        out[k] = score[near].mean() if near else 0.0
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", default="gep-plus")
    ap.add_argument("--radius", type=float, default=10.0, help="Cα contact distance, Å")
    ap.add_argument("--patch", type=float, default=10.0, help="patch radius, Å")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    bench = load_benchmark_config(args.bench)
    data, features = load_data_config(bench.data), load_feature_config(bench.features)
    parts = {p: load_split(bench.splits[p], data, features, None, workers=1).graphs for p in ("train", "val", "test")}
    cases = build_cases(data.data_root() / "docking_unbound" / "index.csv", FeatureConfig())  # bad ones logged
    parts["docking (bound)"] = [rec.bound for rec in cases.values()]
    table = pair_log_odds(parts["train"], args.radius)
    print(f"# pair_propensity: {bench.name}, table from {len(parts['train'])} training complexes, contacts Cα ≤ "
          f"{args.radius:g} Å, patches {args.patch:g} Å; mean within-antigen epitope AUROC")
    print("| split | antigens | own antibody | next complex's antibody (control) |")
    print("|---|---:|---:|---:|")
    for part in ("val", "test", "docking (bound)"):
        graphs = parts[part]
        own, swapped = [], []
        for i, g in enumerate(graphs):
            y = g.y[~g.is_antibody.astype(bool)].astype(bool)
            if not y.any():
                continue
            own.append(auroc(y, patch_scores(g, g, table, args.patch)))
            swapped.append(auroc(y, patch_scores(g, graphs[(i + 1) % len(graphs)], table, args.patch)))
        print(f"| {part} | {len(own)} | {np.nanmean(own):.3f} | {np.nanmean(swapped):.3f} |")


if __name__ == "__main__":
    main()
