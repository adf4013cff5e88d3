"""Cross-validation of the gradient-boosting members on the training pool, grouped by antigen family.

Usage: python bench/pool_cv.py [--variants gbm,gbm-templates,...] [--folds 5] [--seed 42]
       [--pool results/splits/gep-plus/pool-id.csv] [--identity 0.9] [--out results/pool-cv]

The shipped members are chosen on 22 GEP validation complexes. On so few, choices that differ by 0.01 AUPRC are
seed noise. The training pool holds 771 complexes. This script scores each member variant on all of them, out of
fold:

* The folds are single-linkage clusters of complexes whose antigens share a chain at ``--identity`` or more
  (:func:`absites.data.leakage.antigen_clusters`). Only chains of 30 residues or more count; peptides would chain
  unrelated antigens. Each cluster lies in one fold, so no antigen is scored by a model that saw a near copy of it.
  Homologues under the identity cut can sit on both sides, as GEP val antigens have theirs in the pool.
* Each fold's model is fitted on the other folds, templates included: a held-out complex reads only the
  templates of the training folds.
* "smoothed": the epitope patch smoothing (:mod:`absites.models.smoothing`) is chosen per fold on the
  out-of-fold scores of the other folds, and applied to that fold. The MCC cut is chosen the same way.

Prints, per variant: epitope AUROC, AUPRC, mean within-antigen AUROC and MCC (raw and smoothed), and paratope
AUPRC on CDR residues. Writes ``table.md`` to ``--out`` and keeps each variant's out-of-fold scores in
``runs/pool-cv/`` (one ``.npz`` per variant and seed); variants whose scores exist are not refitted.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import subprocess
import time
from pathlib import Path

import numpy as np

from absites.config import PROJECT_ROOT, load_data_config, load_feature_config, load_model_config
from absites.data.index import SplitSpec, read_index
from absites.data.leakage import antigen_clusters, sequences_of
from absites.metrics import best_mcc_threshold, evaluate, gather, threshold_metrics
from absites.models.baselines import SklearnBaseline
from absites.models.smoothing import choose_smoothing
from absites.provenance import machine_description
from absites.train.run import load_split

# label -> (model config, parameters over it)
VARIANTS = {
    "gbm": ("gbm", {}),
    "gbm-templates": ("gbm-templates", {}),
    "gbm-templates-relatives": ("gbm-templates", {"template_relatives": 0.9}),
    "gbm-shape-context-templates": ("gbm-templates", {"shape": True, "context": True}),
    "gbm-shape-context-templates-relatives": ("gbm-templates", {"shape": True, "context": True,
                                                                "template_relatives": 0.9}),
    # the antibody's descriptors too (absites.graph.partner; not kept on GEP val, bench/RESULTS.md)
    "gbm-shape-context-partner-templates-relatives": ("gbm-templates", {"shape": True, "context": True, "partner": True,
                                                                        "template_relatives": 0.9}),
}
MIN_CHAIN = 30  # residues: shorter antigen chains (peptides) do not join clusters


def fold_of(complex_ids: list[str], clusters: dict[str, int], folds: int, seed: int) -> np.ndarray:
    """Each complex's fold: clusters dealt to folds largest first, each to the fold with fewest complexes so far
    (ties by a seeded order), so folds are balanced although clusters are not."""
    sizes: dict[int, int] = {}
    for cid in complex_ids:
        sizes[clusters[cid]] = sizes.get(clusters[cid], 0) + 1
    rng = np.random.default_rng(seed)
    order = sorted(sizes, key=lambda c: (-sizes[c], rng.random()))
    load, where = np.zeros(folds, dtype=int), {}
    for c in order:
        f = int(np.argmin(load + rng.random(folds) * 1e-3))
        where[c] = f
        load[f] += sizes[c]
    return np.array([where[clusters[cid]] for cid in complex_ids])


def pool_clusters(index: Path, identity: float, cache_dir: Path, workers: int) -> dict[str, int]:
    entries = read_index(index, split="train", primary_only=True)
    seqs, failed = sequences_of(entries, cache_dir, workers=workers)
    if failed:
        logging.warning("%d pool entries without sequences (own clusters): %s", len(failed), failed[:3])
    long = {cid: dataclasses.replace(s, antigen=tuple(a for a in s.antigen if len(a) >= MIN_CHAIN) or s.antigen)
            for cid, s in seqs.items()}
    clusters = antigen_clusters(long, identity)
    top = max(clusters.values(), default=-1) + 1
    for i, (cid, _) in enumerate(failed):
        clusters[cid] = top + i
    return clusters


def out_of_fold(graphs, fold: np.ndarray, model_name: str, params: dict, seed: int) -> dict[str, np.ndarray]:
    """Complex id -> residue probabilities from the model fitted on the other folds."""
    cfg = load_model_config(model_name)
    kwargs = {**cfg.params, **params}
    preds = {}
    for f in range(int(fold.max()) + 1):
        t0 = time.perf_counter()
        train = [g for g, k in zip(graphs, fold) if k != f]
        held = [g for g, k in zip(graphs, fold) if k == f]
        model = SklearnBaseline(seed=seed, **kwargs).fit(train)
        preds.update({g.complex_id: model.predict(g) for g in held})
        print(f"  fold {f}: {len(train)} train, {len(held)} scored, {time.perf_counter() - t0:.0f} s", flush=True)
    return preds


def _pooled(graphs, preds: dict[str, np.ndarray], task: str) -> tuple[np.ndarray, np.ndarray]:
    pairs = gather(graphs, preds, task)
    return np.concatenate([y for y, _ in pairs]), np.concatenate([s for _, s in pairs])


def summarise(graphs, fold: np.ndarray, preds: dict[str, np.ndarray]) -> dict[str, float]:
    """Pooled metrics; the smoothing and the MCC cut of each fold chosen on the other folds' scores."""
    smoothed, calls = {}, {"raw": [], "smoothed": []}
    for f in range(int(fold.max()) + 1):
        others = [g for g, k in zip(graphs, fold) if k != f]
        held = [g for g, k in zip(graphs, fold) if k == f]
        smoothing = choose_smoothing(others, preds)
        smoothed.update(smoothing.apply_all(held, {g.complex_id: preds[g.complex_id] for g in held}))
        for label, fitted, scored in (("raw", preds, preds),
                                      ("smoothed", smoothing.apply_all(others, preds), smoothed)):
            cut = best_mcc_threshold(*_pooled(others, fitted, "epitope"))
            y, s = _pooled(held, scored, "epitope")
            calls[label].append((y, (s >= cut).astype(float)))
    out = {}
    for label, scores in (("raw", preds), ("smoothed", smoothed)):
        metrics = evaluate(graphs, scores)
        out[f"epitope AUROC {label}"] = metrics["epitope"]["auroc"]
        out[f"epitope AUPRC {label}"] = metrics["epitope"]["auprc"]
        out[f"within-antigen AUROC {label}"] = metrics["epitope"]["auroc_mean"]  # complexes with both classes
        yy = np.concatenate([a for a, _ in calls[label]])
        out[f"epitope MCC {label}"] = threshold_metrics(yy, np.concatenate([b for _, b in calls[label]]), 0.5)["mcc"]
        if label == "raw":
            out["surface-residue epitope AUROC raw"] = metrics["epitope_surface"]["auroc"]
            out["paratope AUPRC"] = metrics["paratope"]["auprc"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--pool", default="results/splits/gep-plus/pool-id.csv")
    ap.add_argument("--identity", type=float, default=0.9)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default="results/pool-cv")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    out, scores_dir = PROJECT_ROOT / args.out, PROJECT_ROOT / "runs" / "pool-cv"
    out.mkdir(parents=True, exist_ok=True)
    scores_dir.mkdir(parents=True, exist_ok=True)
    data, features = load_data_config("default"), load_feature_config("default")
    graphs = load_split(SplitSpec("train", index=args.pool), data, features, None, workers=args.workers).graphs
    clusters = pool_clusters(PROJECT_ROOT / args.pool, args.identity, data.cache_path(), args.workers)
    graphs = [g for g in graphs if g.complex_id in clusters]
    fold = fold_of([g.complex_id for g in graphs], clusters, args.folds, args.seed)
    n_clusters = len({clusters[g.complex_id] for g in graphs})
    print(f"{len(graphs)} complexes, {n_clusters} antigen clusters at {args.identity:.0%}, folds of "
          f"{np.bincount(fold).tolist()} complexes", flush=True)
    rows = []
    for label in args.variants.split(","):
        model_name, params = VARIANTS[label]
        path = scores_dir / f"{label}-seed{args.seed}-folds{args.folds}.npz"
        if path.exists():
            saved = np.load(path)
            preds = {cid: saved[cid] for cid in saved.files}
        else:
            print(f"{label}:", flush=True)
            preds = out_of_fold(graphs, fold, model_name, params, args.seed)
            np.savez_compressed(path, **preds)
        rows.append((label, summarise(graphs, fold, preds)))
        print(label, {k: round(v, 3) for k, v in rows[-1][1].items()}, flush=True)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=PROJECT_ROOT).stdout.strip()
    keys = list(rows[0][1])
    lines = [f"# Pool cross-validation: {len(graphs)} complexes of `{args.pool}`, {args.folds} folds by antigen "
             f"cluster ({n_clusters} clusters at {args.identity:.0%} identity), seed {args.seed}",
             "", f"`python bench/pool_cv.py` at {commit or '?'}; {machine_description()}. Out-of-fold scores of "
             "every complex; smoothing and MCC cut chosen per fold on the other folds.", "",
             "| variant | " + " | ".join(keys) + " |", "|---|" + "---:|" * len(keys)]
    lines += [f"| {label} | " + " | ".join(f"{r[k]:.3f}" for k in keys) + " |" for label, r in rows]
    (out / "table.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
