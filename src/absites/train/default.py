"""Train the default models named in ``configs/default_models.yaml`` and ship them in the package.

``python -m absites.train.default`` (``make train-default``): for each task, train
the configured model on the GEP train split with early stopping on val, evaluate
on the test split, and copy the checkpoint (small: weights or a fitted baseline,
no optimiser state) into ``src/absites/models/default/<task>/`` with a model card
(data, split, metrics, date, code version).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
from pathlib import Path

from absites.config import (
    CONFIG_DIR,
    DEFAULT_MODEL_DIR,
    PROJECT_ROOT,
    load_data_config,
    load_feature_config,
    load_model_config,
    load_surface_config,
    load_training_config,
    load_yaml,
)
from absites.data.index import SplitSpec
from absites.models.smoothing import EpitopeSmoothing
from absites.train.run import evaluate_run, train_run

KEYS = ("auroc", "auprc", "mcc", "mcc_at_val", "precision", "recall", "f1", "auroc_mean", "auprc_mean")


def _table(metrics: dict) -> str:
    lines = ["| task | " + " | ".join(KEYS) + " |", "|---|" + "---:|" * len(KEYS)]
    for task, m in metrics.items():
        lines.append(f"| {task} | " + " | ".join(f"{m.get(k, float('nan')):.3f}" for k in KEYS) + " |")
    return "\n".join(lines)


def _smoothing_line(meta: dict) -> str:
    smoothing = EpitopeSmoothing.from_dict(meta.get("epitope_smoothing"))
    return f"\n* epitope smoothing: {smoothing.describe()} (`absites.models.smoothing`)" if smoothing.active else ""


def model_card(task: str, meta: dict, val: dict, test: dict, card_cfg: dict) -> str:
    d = meta["data"]
    return f"""# absites default {task} model

* model: `{meta['model']}` {json.dumps(meta['model_params'])}
* trained {dt.date.today().isoformat()} with absites {meta.get('code_version', '?')}, seed {meta.get('seed')}
* data: train = {d['train_split']} ({d['n_train']} complexes), val = {d['val_split']} ({d['n_val']}), index
  `{Path(d['index']).name}` (../shared/data); networks stop early on val; thresholds chosen on val (MCC-optimal)
{card_cfg.get('note', '').strip()}
* features: {json.dumps(meta['features'])}
* surface: {json.dumps(meta.get('surface'))}
* training: {json.dumps(meta['training'])}{_smoothing_line(meta)}
* config: {json.dumps({k: v for k, v in card_cfg.items() if k != 'note'})}
* this model scores the {'antibody' if task == 'paratope' else 'antigen'} residues in `absites predict`

Paratope metrics are over CDR residues (Chothia ±2), epitope over all antigen residues
(`epitope_surface`: antigen residues with RSA ≥ 0.05); pooled over residues of the split,
`*_mean` are per-complex means, `mcc_at_val` uses the validation threshold.

## Validation ({d['n_val']} complexes)

{_table(val)}

## Test ({test['n_complexes']} complexes)

{_table(test['metrics'])}
"""


def _training(spec: str | dict):
    """``training:`` of a task: a config name, or ``{config: NAME, <option>: <value>, ...}`` (overrides)."""
    if isinstance(spec, str):
        return load_training_config(spec)
    options = dict(spec)
    return load_training_config(options.pop("config", "default"), **options)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--config", default=str(CONFIG_DIR / "default_models.yaml"))
    ap.add_argument("--tasks", default="paratope,epitope")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    cfg = load_yaml(args.config)
    data = load_data_config(cfg.get("data", "default"))
    features = load_feature_config(cfg.get("features", "default"))
    surface = load_surface_config(cfg.get("surface", "default"))
    for task in args.tasks.split(","):
        spec = cfg[task]
        model = load_model_config(spec["model"])
        training = _training(spec.get("training", "default"))
        run_dir = PROJECT_ROOT / "runs" / f"default-{task}"
        splits = {part: SplitSpec(**spec[part]) if isinstance(spec.get(part), dict) else SplitSpec(spec.get(part, part))
                  for part in ("train", "val")}
        result = train_run(model, training, data, features, surface, run_dir, workers=args.workers,
                           train_split=splits["train"], val_split=splits["val"])
        test = evaluate_run(run_dir, "test", data, args.workers)
        target = DEFAULT_MODEL_DIR / task
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        if (run_dir / "baseline.joblib").exists():
            shutil.copy2(run_dir / "baseline.joblib", target / "baseline.joblib")
        else:
            shutil.copy2(run_dir / "best.pt", target / "best.pt")
        meta = json.loads((run_dir / "metrics.json").read_text())["meta"]
        (target / "MODEL_CARD.md").write_text(model_card(task, meta, result.val_metrics, test, spec))
        print(f"{task}: {model.name} -> {target} (val {result.val_metrics[task]['auprc']:.3f} AUPRC, "
              f"test {test['metrics'][task]['auprc']:.3f} AUPRC)")


if __name__ == "__main__":
    main()
