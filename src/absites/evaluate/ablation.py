"""The unbalanced-initialisation ablation (Kunin et al., arXiv 2406.06158) from benchmark job records.

For each model family the benchmark config names a balanced row (the family's
default) and an ``upstream`` and a ``downstream`` row (same model, other
``init_scale`` / ``lr_scale``). Per seed, the balanced run's best validation
score (mean of paratope and epitope AUPRC, the early-stopping score) is the
target; for each setting we report the first epoch whose validation score
reaches it (same seed), how many seeds reach it at all, the best validation
score, and final test metrics. ``init_ablation.md`` / ``.csv`` and
``init_curves.png`` (validation score per epoch, mean over seeds).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np

from absites.evaluate.bench_records import JobRecord

SETTINGS = ("upstream", "balanced", "downstream")


def _epochs_to_reach(history: list[dict[str, float]], target: float) -> int | None:
    for i, h in enumerate(history, 1):
        if h.get("score", -np.inf) >= target - 1e-12:
            return i
    return None


def ablation_rows(bench, records: list[JobRecord]) -> list[dict[str, Any]]:
    by_label: dict[str, dict[int, JobRecord]] = {}
    for r in records:
        by_label.setdefault(r.label, {})[r.seed] = r
    out = []
    for family, variants in bench.init_ablation.items():
        labels = {"balanced": family, **variants}
        balanced = by_label.get(family, {})
        for setting in SETTINGS:
            recs = by_label.get(labels[setting], {})
            reach, best, para, epi, seeds = [], [], [], [], []
            for seed, rec in sorted(recs.items()):
                hist = rec.history
                base = balanced[seed].history if seed in balanced else []
                if not hist or not base:
                    continue
                seeds.append(seed)
                reach.append(_epochs_to_reach(hist, max(h["score"] for h in base)))
                best.append(max(h["score"] for h in hist))
                para.append(rec.test_metric("paratope", "auprc"))
                epi.append(rec.test_metric("epitope", "auroc"))
            reached = [x for x in reach if x is not None]
            out.append({"family": family, "setting": setting, "row": labels[setting],
                        "params": (recs[next(iter(recs))].params if recs else {}), "n_seeds": len(seeds),
                        "reached": len(reached),
                        "epochs_to_reach_mean": float(np.mean(reached)) if reached else float("nan"),
                        "best_val_score_mean": float(np.mean(best)) if best else float("nan"),
                        "best_val_score_std": float(np.std(best, ddof=1)) if len(best) > 1 else float("nan"),
                        "test_paratope_auprc_mean": float(np.mean(para)) if para else float("nan"),
                        "test_paratope_auprc_std": float(np.std(para, ddof=1)) if len(para) > 1 else float("nan"),
                        "test_epitope_auroc_mean": float(np.mean(epi)) if epi else float("nan"),
                        "test_epitope_auroc_std": float(np.std(epi, ddof=1)) if len(epi) > 1 else float("nan"),
                        "curves": [recs[s].history for s in seeds]})
    return out


def _pm(mean: float, std: float) -> str:
    if not np.isfinite(mean):
        return "–"
    return f"{mean:.3f}" + (f" ± {std:.3f}" if np.isfinite(std) else "")


def write_init_ablation(bench, records: list[dict[str, Any]], out_dir: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = ablation_rows(bench, records)
    if not any(r["n_seeds"] for r in rows):
        return []
    cols = [k for k in rows[0] if k not in ("curves", "params")]
    with (out_dir / "init_ablation.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=cols + ["params"], extrasaction="ignore")
        writer.writeheader()
        for r in rows:
            writer.writerow({**{k: (f"{v:.4f}" if isinstance(v, float) else v) for k, v in r.items()},
                             "params": str(r["params"])})
    lines = [f"# Unbalanced initialisation ablation — benchmark `{bench.name}`", "",
             "Rows of the benchmark table (same splits, seeds and budget). Balanced = the model's default "
             "initialisation and one learning rate. Upstream / downstream scale the initial weights "
             "(`init_scale`) and learning rates (`lr_scale`) of the layers before the readout versus the readout "
             "(absites.train.balance). Epochs to reach = first epoch whose validation score (mean of paratope and "
             "epitope AUPRC) reaches the balanced run's best on the same seed; reached = seeds that get there "
             "within the budget. Test metrics: mean ± std over seeds.", "",
             "| family | setting | row | seeds | reached | epochs to reach | best val score | test paratope AUPRC "
             "| test epitope AUROC |", "|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['family']} | {r['setting']} | {r['row']} | {r['n_seeds']} | {r['reached']} | "
                     + (f"{r['epochs_to_reach_mean']:.1f}" if np.isfinite(r["epochs_to_reach_mean"]) else "–")
                     + f" | {_pm(r['best_val_score_mean'], r['best_val_score_std'])} "
                       f"| {_pm(r['test_paratope_auprc_mean'], r['test_paratope_auprc_std'])} "
                       f"| {_pm(r['test_epitope_auroc_mean'], r['test_epitope_auroc_std'])} |")
    lines += ["", "Settings: " + "; ".join(f"{r['row']}: {r['params'] or 'defaults'}" for r in rows
                                           if r["setting"] != "balanced"), "",
              "Figure: `init_curves.png` (validation score per epoch, mean over the seeds still training).", ""]
    (out_dir / "init_ablation.md").write_text("\n".join(lines))
    families = list(bench.init_ablation)
    fig, axes = plt.subplots(1, len(families), figsize=(6 * len(families), 4.5), squeeze=False)
    for ax, family in zip(axes[0], families):
        for r in (x for x in rows if x["family"] == family and x["curves"]):
            longest = max(len(c) for c in r["curves"])
            mean = [np.mean([c[i]["score"] for c in r["curves"] if len(c) > i]) for i in range(longest)]
            ax.plot(range(1, longest + 1), mean, marker="o", ms=3, label=f"{r['setting']} ({r['row']})")
        ax.set(xlabel="epoch", ylabel="val score (mean AUPRC)", title=f"{family}: initialisation balance")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out_dir / "init_curves.png", dpi=110)
    plt.close(fig)
    return [out_dir / "init_ablation.csv", out_dir / "init_ablation.md", out_dir / "init_curves.png"]
