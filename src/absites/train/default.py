"""Train the default models named in ``configs/default_models.yaml`` and ship them in the package.

``python -m absites.train.default`` (``make train-default``): for each task, train
the configured model on the GEP train split with early stopping on val, evaluate
on the test split, and copy the checkpoint (small: weights or a fitted baseline,
no optimiser state) into ``src/absites/models/default/<task>/`` with a model card
(data, split, metrics, date, code version).

A task may instead name an ``ensemble:`` of ``members:`` (each trained once, shipped in
``models/default/members/<name>/``, shared between the tasks), whose weights and
thresholds are chosen on val (:func:`absites.train.run.train_ensemble`; ``calibrate: true`` also fits
the epitope calibration to the antigen's size there); ``alone:``
names the partner-free members that serve ``predict --antibody`` / ``--antigen``
alone (``models/default/alone.json``).
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
from absites.models.calibration import EpitopeCalibration
from absites.models.focus import EpitopeFocus
from absites.models.ensemble import EnsembleWeights
from absites.models.smoothing import EpitopeSmoothing
from absites.train.run import evaluate_run, train_ensemble, train_run

KEYS = ("auroc", "auprc", "mcc", "mcc_at_val", "precision", "recall", "f1", "auroc_mean", "auprc_mean")


def _table(metrics: dict) -> str:
    lines = ["| task | " + " | ".join(KEYS) + " |", "|---|" + "---:|" * len(KEYS)]
    for task, m in metrics.items():
        lines.append(f"| {task} | " + " | ".join(f"{m.get(k, float('nan')):.3f}" for k in KEYS) + " |")
    return "\n".join(lines)


def _smoothing_line(meta: dict) -> str:
    smoothing = EpitopeSmoothing.from_dict(meta.get("epitope_smoothing"))
    return f"\n* epitope smoothing: {smoothing.describe()} (`absites.models.smoothing`)" if smoothing.active else ""


def model_card(task: str, meta: dict, val: dict, test: dict, card_cfg: dict, extra: str = "") -> str:
    d = meta["data"]
    return f"""# absites default {task} model

* model: `{meta['model']}` {json.dumps(meta['model_params'])}
* trained {dt.date.today().isoformat()} with absites {meta.get('code_version', '?')}, seed {meta.get('seed')}
* data: train = {d['train_split']} ({d['n_train']} complexes), val = {d['val_split']} ({d['n_val']}), index
  `{Path(d['index']).name}` (../shared/data); networks stop early on val; thresholds chosen on val (MCC-optimal, bagged over complexes)
{card_cfg.get('note', '').strip()}
* features: {json.dumps(meta['features'])}
* surface: {json.dumps(meta.get('surface'))}
* training: {json.dumps(meta['training'])}{_smoothing_line(meta)}
* config: {json.dumps({k: v for k, v in card_cfg.items() if k != 'note'})}{extra}
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


def _splits(spec: dict) -> dict[str, SplitSpec]:
    return {part: SplitSpec(**spec[part]) if isinstance(spec.get(part), dict) else SplitSpec(spec.get(part, part))
            for part in ("train", "val")}


def _train_one(name: str, spec: dict, data, features, default_surface, workers: int, runs: Path):
    """Train one configured model into ``<runs>/default-<name>``: (result, run dir)."""
    model = load_model_config(spec["model"], spec.get("params"))  # the member's params over the config's own
    training = _training(spec.get("training", "default"))
    surface = load_surface_config(spec["surface"]) if spec.get("surface") else default_surface
    run_dir = runs / f"default-{name}"
    splits = _splits(spec)
    result = train_run(model, training, data, features, surface, run_dir, workers=workers,
                       train_split=splits["train"], val_split=splits["val"])
    return result, run_dir


def _ship(run_dir: Path, target: Path) -> None:
    """Copy what predicting needs (weights or the fitted baseline, a template library), no optimiser state."""
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for name in ("baseline.joblib", "best.pt", "templates.joblib"):
        if (run_dir / name).exists():
            shutil.copy2(run_dir / name, target / name)


def _member_line(names: list[str], cfg: dict) -> str:
    lines = [f"  * `{n}`: {json.dumps({k: v for k, v in cfg['members'][n].items() if k != 'note'})}" for n in names]
    return ("\n* members (trained once each, shipped in `models/default/members/`; weights chosen on val):\n"
            + "\n".join(lines))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--config", default=str(CONFIG_DIR / "default_models.yaml"))
    ap.add_argument("--tasks", default="paratope,epitope")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", type=Path, default=DEFAULT_MODEL_DIR,
                    help="where the models go (default: the package's shipped models)")
    ap.add_argument("--runs", type=Path, default=PROJECT_ROOT / "runs", help="where the training runs go")
    ap.add_argument("--only", default="", help="retrain only these members (comma-separated; 'none': none of "
                                                "them); the others are kept as shipped in --out; ensembles and "
                                                "cards are redone")
    args = ap.parse_args(argv)
    out = args.out
    cfg = load_yaml(args.config)
    data = load_data_config(cfg.get("data", "default"))
    features = load_feature_config(cfg.get("features", "default"))
    surface = load_surface_config(cfg.get("surface", "default"))
    tasks = args.tasks.split(",")
    # members: trained once, shared by the tasks' ensembles and the one-protein models
    wanted = list(dict.fromkeys([m for t in tasks for m in cfg[t].get("ensemble", [])]
                                + [m for m in (cfg.get("alone") or {}).values()]))
    only = [n for n in args.only.split(",") if n]
    unknown = [n for n in only if n not in wanted and n != "none"]
    if unknown:
        raise SystemExit(f"--only: {', '.join(unknown)} not among the members in use ({', '.join(wanted)})")
    for name in wanted:
        if name not in (cfg.get("members") or {}):
            raise SystemExit(f"{args.config}: member {name!r} is not defined under members:")
        if only and name not in only:
            if not (out / "members" / name).is_dir():
                raise SystemExit(f"--only: member {name!r} is not shipped in {out / 'members'}; train it too")
            print(f"member {name}: kept as shipped")
            continue
        result, run_dir = _train_one(name, cfg["members"][name], data, features, surface, args.workers, args.runs)
        _ship(run_dir, out / "members" / name)
        print(f"member {name}: val paratope AUPRC {result.val_metrics['paratope']['auprc']:.3f}, "
              f"epitope AUROC {result.val_metrics['epitope']['auroc']:.3f}")
    for stale in sorted((out / "members").iterdir()) if (out / "members").is_dir() else []:
        if stale.is_dir() and stale.name not in wanted:  # a member the config no longer uses: not shipped
            shutil.rmtree(stale)
            print(f"member {stale.name}: removed (no longer in use)")
    if cfg.get("alone"):  # partner-free models for `predict --antibody` / `--antigen` alone
        (out / "alone.json").write_text(json.dumps(
            {task: f"members/{name}" for task, name in cfg["alone"].items()}, indent=1))
    for task in tasks:
        spec = cfg[task]
        target = out / task
        if spec.get("ensemble"):
            names = list(spec["ensemble"])
            val = _splits(cfg["members"][names[0]])["val"]
            if target.exists():
                shutil.rmtree(target)
            result = train_ensemble([out / "members" / n for n in names], data, target, val_split=val,
                                    workers=args.workers, names=names, calibrate=bool(spec.get("calibrate")),
                                    focus=bool(spec.get("focus")))
            meta = json.loads((target / "metrics.json").read_text())["meta"]
            (target / "metrics.json").unlink()  # the card holds the metrics; the package ships no run logs
            extra = (_member_line(names, cfg)
                     + f"\n* {EnsembleWeights.from_dict(meta['weights']).describe(names)}")
            if EpitopeFocus.from_dict(meta.get("epitope_focus")).active:
                extra += f"\n* {EpitopeFocus.from_dict(meta['epitope_focus']).describe()}"
            if meta.get("epitope_calibration", {}).get("active"):
                extra += f"\n* {EpitopeCalibration.from_dict(meta['epitope_calibration']).describe()}"
        else:
            result, run_dir = _train_one(task, spec, data, features, surface, args.workers, args.runs)
            _ship(run_dir, target)
            meta = json.loads((run_dir / "metrics.json").read_text())["meta"]
            extra = ""
        test = evaluate_run(target, "test", data, args.workers)
        (target / "MODEL_CARD.md").write_text(model_card(task, meta, result.val_metrics, test, spec, extra))
        print(f"{task}: {meta['model']} -> {target} (val {result.val_metrics[task]['auprc']:.3f} AUPRC, "
              f"test {test['metrics'][task]['auprc']:.3f} AUPRC)")


if __name__ == "__main__":
    main()
