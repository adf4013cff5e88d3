"""Does docking the antibody onto its antigen point at the epitope? A residue-level rigid-docking consensus.

Usage: python bench/dock_consensus.py [--sets val,test,docking] [--workers 2]

The epitope models read the antigen, plus templates that weigh known epitopes by antibody similarity; nothing
in them asks where *this* antibody's paratope would fit. This script measures how much a crude docking search
knows about that, before any model is built on it. Each protein keeps only its own internal geometry (residue
heavy-atom centroids); the bound pose is never read.

* The antibody's paratope is its exposed CDR residues (RSA ≥ 0.15); its axis runs from the antibody's centroid
  to the paratope's. Antibody residues farther than 20 Å from the paratope centre are dropped.
* Candidate sites: exposed antigen residues, greedily thinned to 6 Å apart (8 Å for antigens of 500+
  residues). Each site's outward normal points away from the centroid of the residues within 12 Å.
* Orientations per site: the paratope axis against the normal and tilted 25° towards four sides, each spun
  through six angles about the approach axis: 30 poses.
* Each pose slides the antibody in along the approach axis until its first residue pair comes within 4 Å
  (solved per pair in closed form, no stepping). Its score: antibody–antigen residue pairs within 8 Å, each
  counted +1 for a paratope residue and −0.5 for any other antibody residue.
* Per antigen residue: the share of the 50 best poses whose paratope comes within 8 Å of it (``top 50``),
  and the same over all poses weighted by ``exp((score − best) / (0.15 · best))`` (``weighted``).

Printed per set: mean within-antigen epitope AUROC of both, for the complex's own antibody and for the next
complex's antibody (the control: what the antibody itself adds is the difference), with relative solvent
accessibility for scale; and the pooled AUROC of the own-antibody scores. Docking cases: bound and unbound
inputs, unbound residues that map onto bound ones, bound labels.
"""

from __future__ import annotations

import argparse
import logging
from multiprocessing import Pool

import numpy as np
from scipy.spatial import cKDTree

from absites.config import FeatureConfig, load_data_config, load_feature_config
from absites.evaluate.bench_config import load_benchmark_config
from absites.evaluate.unbound import build_cases
from absites.metrics import auroc
from absites.train.run import load_split

EXPOSED, CLASH, CONTACT, START = 0.15, 4.0, 8.0, 30.0
Z = np.array([0.0, 0.0, 1.0])


def _unit(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-9)


def _cross_matrix(w: np.ndarray) -> np.ndarray:
    return np.array([[0.0, -w[2], w[1]], [w[2], 0.0, -w[0]], [-w[1], w[0], 0.0]])


def _rotation(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """The rotation taking unit vector ``u`` onto unit vector ``v`` (``(3, 3)``)."""
    c = float(u @ v)
    if c > 1 - 1e-9:
        return np.eye(3)
    if c < -1 + 1e-9:  # half turn about any axis normal to u
        a = _unit(np.cross(u, [1.0, 0.0, 0.0] if abs(u[0]) < 0.9 else [0.0, 1.0, 0.0]))
        return 2 * np.outer(a, a) - np.eye(3)
    k = _cross_matrix(np.cross(u, v))
    return np.eye(3) + k + k @ k / (1 + c)


def _about(axis: np.ndarray, angle: float) -> np.ndarray:
    k = _cross_matrix(axis)
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * k @ k


def dock(ab_pos, ab_cdr, ab_rsa, ag_pos, ag_rsa, tilt=np.radians(25.0), sides=4, spins=6, ab_radius=20.0,
         ag_radius=24.0, frame_weight=-0.5):
    """Scores ``(P,)`` of all poses and, per pose, the antigen residues its paratope contacts (module docstring)."""
    para = (ab_cdr > 0) & (ab_rsa >= EXPOSED)
    if para.sum() < 3:
        para = ab_cdr > 0
    centre = ab_pos[para].mean(0)
    keep = np.linalg.norm(ab_pos - centre, axis=1) < ab_radius
    local = (ab_pos[keep] - centre) @ _rotation(_unit(centre - ab_pos.mean(0)), Z).T  # paratope at 0, facing +z
    weight = np.where(para[keep], 1.0, frame_weight)
    front = local[:, 2] > -6.0  # the residues that can touch first as the antibody slides in
    tree = cKDTree(ag_pos)
    exposed = np.flatnonzero(ag_rsa >= EXPOSED)
    spacing = 6.0 if len(ag_pos) < 500 else 8.0
    sites: list[int] = []
    for i in exposed[np.argsort(-ag_rsa[exposed], kind="stable")]:  # most exposed first
        if not sites or np.linalg.norm(ag_pos[sites] - ag_pos[i], axis=1).min() >= spacing:
            sites.append(int(i))
    approach = [Z] + [np.array([np.sin(tilt) * np.cos(t), np.sin(tilt) * np.sin(t), np.cos(tilt)])
                      for t in np.linspace(0, 2 * np.pi, sides, endpoint=False)]
    scores, contacts = [], []
    for site in sites:
        around = tree.query_ball_point(ag_pos[site], 12.0)
        normal = _unit(ag_pos[site] - ag_pos[around].mean(0)) if len(around) > 1 else _unit(ag_pos[site] - ag_pos.mean(0))
        near = np.asarray(tree.query_ball_point(ag_pos[site], ag_radius))
        target = ag_pos[near]
        to_normal = _rotation(Z, normal)
        for a in approach:
            d = to_normal @ a  # outward; the paratope faces -d
            facing = _rotation(Z, -d)
            turns = np.stack([_about(-d, phi) @ facing for phi in np.linspace(0, 2 * np.pi, spins, endpoint=False)])
            placed = np.einsum("aj,sij->sai", local, turns) + ag_pos[site] + START * d  # (spins, a, 3)
            v = placed[:, front, None, :] - target[None, None, :, :]
            vd = v @ d
            disc = vd ** 2 - (v ** 2).sum(-1) + CLASH ** 2  # |v - s d| = CLASH at s = vd ± sqrt(disc)
            slide = np.where(disc >= 0, vd - np.sqrt(np.maximum(disc, 0.0)), np.inf).reshape(spins, -1).min(1)
            ok = np.flatnonzero(np.isfinite(slide))
            if not len(ok):
                continue
            final = placed[ok] - slide[ok, None, None] * d
            close = ((final[:, :, None, :] - target[None, None, :, :]) ** 2).sum(-1) < CONTACT ** 2
            pose_scores = (close.sum(2) * weight).sum(1)
            hits = close[:, weight > 0].any(1)
            for k in range(len(ok)):
                scores.append(float(pose_scores[k]))
                contacts.append(near[hits[k]])
    return np.asarray(scores), contacts


def consensus(n_ag: int, scores: np.ndarray, contacts: list[np.ndarray], top: int = 50,
              temperature: float = 0.15) -> np.ndarray:
    """``(n_ag, 2)``: share of the ``top`` best poses contacting each residue; the score-weighted share."""
    out = np.zeros((n_ag, 2))
    if not len(scores):
        return out
    best = np.argsort(-scores, kind="stable")[:top]
    for i in best:
        out[contacts[i], 0] += 1.0 / len(best)
    w = np.exp((scores - scores.max()) / (temperature * max(scores.max(), 1.0)))
    for wi, ci in zip(w / w.sum(), contacts):
        out[ci, 1] += wi
    return out


def _score(job):
    """Own and swapped antibody: ``(n_ag, 4)`` (top 50 own, weighted own, top 50 swapped, weighted swapped)."""
    (ab, ag), (other, _) = job
    cols = [consensus(len(ag[0]), *dock(*antibody, ag[0], ag[1])) for antibody in (ab, other)]
    return np.concatenate(cols, axis=1)


def _sides(graph):
    is_ab = graph.is_antibody.astype(bool)
    ab = (graph.pos[is_ab].astype(np.float64), graph.cdr[is_ab], graph.rsa[is_ab])
    ag = (graph.pos[~is_ab].astype(np.float64), graph.rsa[~is_ab])
    return ab, ag


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sets", default="val,test,docking")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    bench = load_benchmark_config("gep-plus")
    data, features = load_data_config(bench.data), load_feature_config(bench.features)
    wanted = args.sets.split(",")
    sets = {part: [(g, None) for g in load_split(bench.splits[part], data, features, None, workers=1).graphs]
            for part in ("val", "test") if part in wanted}
    if "docking" in wanted:
        cases = build_cases(data.data_root() / "docking_unbound" / "index.csv", FeatureConfig()).values()  # bad ones logged
        sets.update({"docking bound": [(rec.bound, None) for rec in cases],
                     "docking unbound": [(rec.unbound, rec.u_to_b >= 0) for rec in cases]})
    print("| set | antigens | top 50 own | top 50 other antibody | weighted own | weighted other antibody | RSA "
          "| pooled top 50 own | pooled weighted own |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    with Pool(args.workers) as pool:
        for name, items in sets.items():
            sides = [_sides(g) for g, _ in items]
            jobs = [(sides[i], sides[(i + 1) % len(sides)]) for i in range(len(sides))]
            per, ys, own = [], [], []
            for (g, mapped), f in zip(items, pool.imap(_score, jobs)):
                ag = ~g.is_antibody.astype(bool)
                keep = np.ones(int(ag.sum()), bool) if mapped is None else mapped[ag]
                y = g.y[ag][keep].astype(bool)
                ys.append(y)
                own.append(f[keep][:, :2])
                if 0 < y.sum() < len(y):
                    per.append([auroc(y, f[keep, j]) for j in (0, 2, 1, 3)] + [auroc(y, g.rsa[ag][keep])])
            y, o = np.concatenate(ys), np.concatenate(own)
            cells = " | ".join(f"{v:.3f}" for v in np.mean(per, axis=0))
            print(f"| {name} | {len(per)} | {cells} | {auroc(y, o[:, 0]):.3f} | {auroc(y, o[:, 1]):.3f} |", flush=True)


if __name__ == "__main__":
    main()
