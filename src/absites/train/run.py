"""Train / evaluate runs from configs: prepare the splits (cached), fit, choose thresholds, save.

A run directory holds ``best.pt`` (networks; ``baseline.joblib`` for baselines,
``ensemble.json`` for ensembles of other runs), ``last.pt`` (resume), ``best.json``
/ ``metrics.json`` (history, validation thresholds, metrics) — everything needed
to evaluate or predict later.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np

from absites.config import (
    ENSEMBLE_FILE,
    DataConfig,
    FeatureConfig,
    ModelConfig,
    SurfaceConfig,
    TrainingConfig,
    run_file,
)
from absites.data.records import load_graphs, load_surfaces
from absites.data.index import SplitSpec, read_index
from absites.data.prepare import prepare
from absites.errors import AbsitesError
from absites.metrics import choose_thresholds, evaluate
from absites.graph.build import ResidueGraph
from absites.graph.shape import SHAPE_FEATURES, with_shape_features
from absites.models.calibration import EpitopeCalibration, fit_calibration
from absites.models.focus import EpitopeFocus, choose_focus
from absites.models.ensemble import EnsembleWeights, choose_weights
from absites.models.smoothing import EpitopeSmoothing, choose_smoothing
from absites.models.templates import TEMPLATE_FEATURES, TemplateLibrary, with_template_features

log = logging.getLogger(__name__)


@dataclass
class SplitData:
    graphs: list[ResidueGraph]
    surfaces: dict[str, tuple] | None
    skipped: list[str]
    entries: list = dataclasses.field(default_factory=list)  # the index entries behind the records


def load_split(split: str | SplitSpec, data: DataConfig, features: FeatureConfig, surface: SurfaceConfig | None,
               workers: int = 2, split_column: str = "split", limit: int | None = None) -> SplitData:
    """Prepare (or reuse) the records of one split and load them (only its first ``limit`` complexes when
    given: nothing else of the split is prepared)."""
    spec = SplitSpec.of(split, split_column)
    index = data.data_root() / data.index
    if spec.index:  # this part reads its own index: relative paths from the project root
        from absites.config import PROJECT_ROOT

        index = Path(spec.index) if Path(spec.index).is_absolute() else PROJECT_ROOT / spec.index
    entries = read_index(index, split=spec.value, primary_only=data.primary_only, split_column=spec.column,
                         sets=spec.sets)
    if not entries:
        raise AbsitesError(f"{index}: no complex in split {spec.describe()}")
    if limit is not None:
        entries = entries[:limit]
    cache = data.cache_path()
    surface_tag = ""
    if surface is not None:  # one manifest per surface config: a shared one would be overwritten in turn
        surface_tag = "-surface" if surface == SurfaceConfig() else f"-surface-{surface.cache_tag()}"
    first = f"-first{limit}" if limit is not None else ""  # a part of the split: its own manifest
    manifest = cache / "manifests" / f"{index.parent.name}-{index.stem}-{spec.tag}{first}{surface_tag}.csv"
    results = prepare(entries, features, cache, workers=workers, manifest_path=manifest, progress=False,
                      surface_cfg=surface)
    skipped = [f"{r.complex_id}: {r.reason}" for r in results
               if not r.ok or (surface is not None and r.surface_status not in ("built", "cached", "rebuilt"))]
    graphs = load_graphs(manifest, cache)
    surfaces = load_surfaces(manifest, cache) if surface else None
    if surfaces is not None:
        graphs = [g for g in graphs if g.complex_id in surfaces]
    return SplitData(graphs, surfaces, skipped, entries)


def with_noisy_copies(part: SplitData, features: FeatureConfig, sigmas: tuple[float, ...], cache_root: Path,
                      surface: SurfaceConfig | None, workers: int = 1) -> SplitData:
    """``part`` plus one noisy copy of each of its complexes per σ (cached; labels of the clean structure)."""
    from absites.data.augment import noisy_training_copies

    kept = {g.complex_id for g in part.graphs}
    entries = [e for e in part.entries if e.complex_id in kept]
    graphs, surfaces, skipped = noisy_training_copies(entries, features, sigmas, cache_root, surface, workers)
    log.info("coord_noise %s: %d noisy copies added (%d skipped)", sigmas, len(graphs), len(skipped))
    merged = {**part.surfaces, **surfaces} if part.surfaces is not None and surfaces is not None else part.surfaces
    return SplitData(part.graphs + graphs, merged, part.skipped + skipped, part.entries)


@dataclass
class RunResult:
    out_dir: Path
    val_metrics: dict[str, Any]
    thresholds: dict[str, float]
    seconds_per_epoch: float
    train_seconds: float
    best_epoch: int


def train_run(model: ModelConfig, training: TrainingConfig, data: DataConfig, features: FeatureConfig,
              surface: SurfaceConfig | None, out_dir: str | Path, resume: bool = False, workers: int = 2,
              train_split: str | SplitSpec = "train", val_split: str | SplitSpec = "val") -> RunResult:
    from absites.graph.build import FEATURE_NAMES
    from absites.provenance import code_version
    from absites.train.loop import fit, input_dim, make_samples, predict, save_checkpoint

    if model.spec.is_ensemble:
        raise AbsitesError("an ensemble is not trained: it combines trained runs (absites.train.run.train_ensemble, "
                           "`absites ensemble`, or an ensemble row of a benchmark)")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    surface = surface if model.needs_surfaces else None
    train = load_split(train_split, data, features, surface, workers)
    val = load_split(val_split, data, features, surface, workers)
    n_clean = len(train.graphs)
    if training.coord_noise:
        train = with_noisy_copies(train, features, training.coord_noise, data.cache_path(), surface, workers)
    log.info("train %d complexes (%d skipped), val %d (%d skipped)", len(train.graphs), len(train.skipped),
             len(val.graphs), len(val.skipped))
    meta = {"model": model.name, "model_params": model.params, "training": asdict(training),
            "features": features.as_dict(), "surface": surface.as_dict() if surface else None,
            "data": {"index": str(data.data_root() / data.index),
                     "train_split": SplitSpec.of(train_split).describe(),
                     "val_split": SplitSpec.of(val_split).describe(), "n_train": n_clean, "n_val": len(val.graphs),
                     "n_train_records": len(train.graphs)},
            "skipped": train.skipped + val.skipped, "code_version": code_version(), "seed": training.seed,
            "feature_names": list(FEATURE_NAMES)}
    t0 = time.perf_counter()
    if model.is_baseline:
        params = dict(model.params)
        if "seed" in model.spec.allowed_params():
            params.setdefault("seed", training.seed)
        baseline = model.spec.build(**params).fit(train.graphs)
        val_preds = {g.complex_id: baseline.predict(g) for g in val.graphs}
        seconds_per_epoch, best_epoch = time.perf_counter() - t0, 0
        val_preds = _choose_epitope_steps(val.graphs, val_preds, meta, training.epitope_smoothing,
                                          training.epitope_focus, training.epitope_calibration)
        thresholds = choose_thresholds(val.graphs, val_preds)
        joblib.dump({"model": baseline, "meta": meta, "thresholds": thresholds}, out_dir / "baseline.joblib", compress=3)
    else:
        if training.templates is not None:  # known epitopes of homologous antigens as extra node features
            train, val = _with_templates(train, val, n_clean, training.templates, out_dir, training.template_relatives)
            meta["feature_names"] += list(TEMPLATE_FEATURES)
        if training.shape_features:  # shape descriptors of each residue in its own protein, last
            train = dataclasses.replace(train, graphs=[with_shape_features(g) for g in train.graphs])
            val = dataclasses.replace(val, graphs=[with_shape_features(g) for g in val.graphs])
            meta["feature_names"] += list(SHAPE_FEATURES)
            meta["shape_features"] = True
        train_s = make_samples(train.graphs, train.surfaces)
        val_s = make_samples(val.graphs, val.surfaces)
        meta["in_dim"] = input_dim(train_s)
        result = fit(model.name, model.params, training, train_s, val_s, out_dir, resume=resume, extra_meta=meta)
        if result.task_epochs:
            meta["per_task_epochs"] = result.task_epochs
        val_preds = predict(result.model, val_s, next(result.model.parameters()).device, training.batch_size)
        val_preds = _choose_epitope_steps(val.graphs, val_preds, meta, training.epitope_smoothing,
                                          training.epitope_focus, training.epitope_calibration)
        thresholds = choose_thresholds(val.graphs, val_preds)
        save_checkpoint(out_dir / "best.pt", result.model, meta, result.history,
                        result.best_epoch, result.best_score, thresholds)
        seconds_per_epoch, best_epoch = result.seconds_per_epoch, result.best_epoch
    train_seconds = time.perf_counter() - t0
    val_metrics = evaluate(val.graphs, val_preds, thresholds)
    return _finish(out_dir, val_split, val_metrics, thresholds, seconds_per_epoch, train_seconds, best_epoch, meta)


def _finish(out_dir: Path, val_split, val_metrics: dict, thresholds: dict, seconds_per_epoch: float,
            train_seconds: float, best_epoch: int, meta: dict) -> RunResult:
    """Write the run's ``metrics.json`` (validation split, metrics, thresholds, times, meta) and its result."""
    (out_dir / "metrics.json").write_text(json.dumps(
        {"split": SplitSpec.of(val_split).describe(), "metrics": val_metrics, "thresholds": thresholds,
         "seconds_per_epoch": seconds_per_epoch, "train_seconds": train_seconds, "best_epoch": best_epoch,
         "meta": meta}, indent=1, default=str))
    return RunResult(out_dir, val_metrics, thresholds, seconds_per_epoch, train_seconds, best_epoch)


# the epitope post-processing steps a run may choose on validation, in the order they apply:
# (meta key, step class, chooser)
_EPITOPE_STEPS = (("epitope_smoothing", EpitopeSmoothing, choose_smoothing),
                  ("epitope_focus", EpitopeFocus, choose_focus),
                  ("epitope_calibration", EpitopeCalibration, fit_calibration))


class EpitopeSteps:
    """The epitope post-processing a run recorded (smoothing, focus, calibration; each off when not recorded),
    applied in that order wherever the run predicts."""

    def __init__(self, recorded: dict[str, Any]):
        self.steps = [cls.from_dict(recorded.get(key)) for key, cls, _ in _EPITOPE_STEPS]

    def apply(self, graph: ResidueGraph, probs: np.ndarray) -> np.ndarray:
        for step in self.steps:
            probs = step.apply(graph, probs)
        return probs

    def apply_all(self, graphs: list[ResidueGraph], preds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        for step in self.steps:
            preds = step.apply_all(graphs, preds)
        return preds

    def notes(self, graph: ResidueGraph) -> list[str]:
        return [note for step in self.steps for note in step.notes(graph)]


def _choose_epitope_steps(graphs: list[ResidueGraph], val_preds: dict[str, np.ndarray], meta: dict[str, Any],
                          smoothing: bool = False, focus: bool = False, calibrate: bool = False
                          ) -> dict[str, np.ndarray]:
    """The enabled steps (smoothing, focus, calibration), each chosen on the validation predictions the steps
    before it give, recorded in ``meta`` (applied again by :func:`load_run`); returns the final predictions."""
    for (key, _, choose), enabled in zip(_EPITOPE_STEPS, (smoothing, focus, calibrate)):
        if enabled:
            step = choose(graphs, val_preds)
            meta[key] = step.as_dict()
            log.info("%s chosen on validation: %s", key.replace("_", " "), step.describe() if step.active else "off")
            val_preds = step.apply_all(graphs, val_preds)
    return val_preds


def _with_templates(train: SplitData, val: SplitData, n_clean: int, min_identity: float,
                    out_dir: Path, relatives: float | None = None) -> tuple[SplitData, SplitData]:
    """Train and val records with template features; the library (clean training complexes) is saved in
    the run as ``templates.joblib``. Training complexes are scored leave-one-out, noisy copies like
    any query (their own clean complex is skipped: same entry, same antibody) but as training complexes
    (``relatives`` applies to them too)."""
    library = TemplateLibrary(train.graphs[:n_clean], min_identity, relatives)
    loo = library.training_features(train.graphs[:n_clean])
    graphs = [with_template_features(g, f) for g, f in zip(train.graphs[:n_clean], loo)]
    graphs += [with_template_features(g, library.features(g, training=True)) for g in train.graphs[n_clean:]]
    joblib.dump(library, out_dir / "templates.joblib", compress=3)
    return (dataclasses.replace(train, graphs=graphs),
            dataclasses.replace(val, graphs=[with_template_features(g, library.features(g)) for g in val.graphs]))


class BaselinePredictor:
    """A fitted baseline as a run's predict function (graphs -> probabilities), with its notes."""

    def __init__(self, baseline, steps: EpitopeSteps | None = None):
        self.baseline = baseline
        self.steps = steps or EpitopeSteps({})

    def __call__(self, graphs, surfaces=None) -> dict[str, np.ndarray]:
        return {g.complex_id: self.steps.apply(g, self.baseline.predict(g)) for g in graphs}

    def notes(self, graph: ResidueGraph, task: str | None = None) -> list[str]:
        """What the model would tell a user about this input (e.g. the epitope templates it found); for
        ``task="paratope"`` nothing: templates and smoothing only concern the epitope."""
        if task == "paratope":
            return []
        own = self.baseline.notes(graph) if hasattr(self.baseline, "notes") else []
        return own + self.steps.notes(graph)


def run_exists(run_dir: str | Path) -> bool:
    return run_file(run_dir) is not None


def train_ensemble(member_dirs: list[str | Path], data: DataConfig, out_dir: str | Path,
                   val_split: str | SplitSpec = "val", step: float = 0.25, workers: int = 2,
                   names: list[str] | None = None, calibrate: bool = False, focus: bool = False) -> RunResult:
    """An ensemble of trained runs: per-task weights chosen on the validation split
    (:func:`absites.models.ensemble.choose_weights`), with ``focus`` the combined epitope probabilities focused on
    their best patch (:mod:`absites.models.focus`), with ``calibrate`` calibrated to the antigen's size
    (:mod:`absites.models.calibration`), then thresholds as for any run. Writes
    ``ensemble.json`` (members as paths relative to ``out_dir``, weights, thresholds, meta) and
    ``metrics.json``; :func:`load_run` predicts with it like any run.

    Raises:
        AbsitesError: a member is not a trained run, or the members read different residue features or
            different surfaces (their predictions would not be of the same records).
    """
    import os

    out_dir = Path(out_dir)
    member_dirs = [Path(m) for m in member_dirs]
    names = list(names) if names else [m.name if m.name and not m.name.startswith("seed") else
                                       f"{m.parent.name}/{m.name}" for m in member_dirs]
    missing = [str(m) for m in member_dirs if not run_exists(m)]
    if missing:
        raise AbsitesError(f"ensemble: no trained run at {', '.join(missing)} (train the members first)")
    members = [load_run(m) for m in member_dirs]
    metas = [m[1] for m in members]
    if any(m["features"] != metas[0]["features"] for m in metas):
        raise AbsitesError("ensemble: the members read different residue features; train them with one "
                           "feature config")
    surfaces = {json.dumps(m["surface"], sort_keys=True) for m in metas if m.get("surface")}
    if len(surfaces) > 1:
        raise AbsitesError("ensemble: the members read different surface configs; at most one is supported")
    surface_dict = next((m["surface"] for m in metas if m.get("surface")), None)
    features = FeatureConfig(**metas[0]["features"])
    surface = SurfaceConfig(**surface_dict) if surface_dict else None
    t0 = time.perf_counter()
    val = load_split(val_split, data, features, surface, workers)
    member_preds = [fn(val.graphs, val.surfaces) for fn, _, _ in members]
    weights, tried = choose_weights(val.graphs, member_preds, step)
    log.info("%s chosen on validation", weights.describe(names))
    val_preds = weights.combine(val.graphs, member_preds)
    calibration_meta: dict[str, Any] = {}
    val_preds = _choose_epitope_steps(val.graphs, val_preds, calibration_meta, focus=focus, calibrate=calibrate)
    thresholds = choose_thresholds(val.graphs, val_preds)
    val_metrics = evaluate(val.graphs, val_preds, thresholds)
    train_seconds = time.perf_counter() - t0
    from absites.provenance import code_version

    meta = {"model": "ensemble", "model_params": {"members": names, "step": step, "calibrate": calibrate, "focus": focus},
            "member_models": [m["model"] for m in metas], "features": metas[0]["features"], "surface": surface_dict,
            "training": {"seed": metas[0].get("seed")}, "weights": weights.as_dict(), "weights_tried": tried,
            "data": {**metas[0]["data"], "val_split": SplitSpec.of(val_split).describe(), "n_val": len(val.graphs)},
            "skipped": val.skipped, "code_version": code_version(), "seed": metas[0].get("seed"),
            **calibration_meta}
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / ENSEMBLE_FILE).write_text(json.dumps(
        {"members": [os.path.relpath(m.resolve(), out_dir.resolve()) for m in member_dirs], "names": names,
         "weights": weights.as_dict(), "calibration": calibration_meta.get("epitope_calibration"),
         "focus": calibration_meta.get("epitope_focus"),
         "thresholds": thresholds, "meta": meta}, indent=1, default=str))
    return _finish(out_dir, val_split, val_metrics, thresholds, train_seconds, train_seconds, 0, meta)


class LastAnswer:
    """A run's predict function that answers a call on the very graph and surface objects of its last call
    from that call's answer. One prediction asks the paratope ensemble and then the epitope ensemble, and the
    shipped ones share their members: without this every member, the network's forward pass included,
    runs twice on the same complex. Objects are compared by identity (and kept, so that no new object can
    take an old one's id); any other call is computed. ``notes`` is the wrapped function's."""

    def __init__(self, fn):
        self.fn, self.last = fn, None  # last: (graphs, surfaces, answer)
        if hasattr(fn, "notes"):
            self.notes = fn.notes

    def __call__(self, graphs, surfaces=None):
        graphs = list(graphs)
        last = self.last
        if (last is not None and last[1] is surfaces and len(last[0]) == len(graphs)
                and all(a is b for a, b in zip(last[0], graphs))):
            return last[2]
        answer = self.fn(graphs, surfaces)
        self.last = (graphs, surfaces, answer)
        return answer


_MEMBERS: dict[tuple[str, int], tuple] = {}  # loaded members by (run path, checkpoint mtime): one load per process


def _load_member(run_dir: Path, worker=None):
    """``load_run(run_dir)``, once per process, its predict function a :class:`LastAnswer`; a network member is
    served by ``worker`` when one is given (:mod:`absites.train.worker`: its process imports torch while this
    one carries on)."""
    found = run_file(run_dir)
    key = (str(run_dir), found.stat().st_mtime_ns if found else 0)
    if key not in _MEMBERS:
        if worker is not None and found is not None and found.suffix == ".pt":
            from absites.train.worker import RemoteRun

            worker.load(run_dir)
            fn, meta, thresholds = RemoteRun(worker, run_dir), {}, {}
        else:
            fn, meta, thresholds = load_run(run_dir)
        _MEMBERS[key] = (LastAnswer(fn), meta, thresholds)
    return _MEMBERS[key]


def _load_ensemble(path: Path):
    from absites.train.worker import run_notes, running_worker

    state = json.loads(path.read_text())
    worker = running_worker()
    members = [_load_member((path.parent / rel).resolve(), worker) for rel in state["members"]]
    weights = EnsembleWeights.from_dict(state["weights"])
    steps = EpitopeSteps({"epitope_focus": state.get("focus"), "epitope_calibration": state.get("calibration")})
    names = state.get("names") or [str(m) for m in state["members"]]

    def run(graphs, surfaces=None):
        return steps.apply_all(graphs, weights.combine(graphs, [fn(graphs, surfaces) for fn, _, _ in members]))

    def notes(graph: ResidueGraph, task: str | None = None) -> list[str]:
        """The weights (of ``task`` only, when given), then each member's own notes under its name."""
        said = [weights.describe(names, task)]
        for name, (fn, _, _) in zip(names, members):
            said += [f"{name}: {note}" for note in run_notes(fn, graph, task)]
        return said + (steps.notes(graph) if task != "paratope" else [])

    run.notes = notes
    return run, state["meta"], state["thresholds"]


def load_run(run_dir: str | Path):
    """(predict function graph list -> probs, meta, thresholds) for a run directory or a checkpoint file."""
    path = Path(run_dir)
    if path.is_dir():
        path = run_file(path) or path / "best.pt"
    if path.name == ENSEMBLE_FILE and path.exists():
        return _load_ensemble(path)
    if not path.exists():
        raise AbsitesError(f"no checkpoint at {path}")
    if path.suffix == ".joblib":
        state = joblib.load(path)
        return BaselinePredictor(state["model"], EpitopeSteps(state["meta"])), state["meta"], state["thresholds"]
    from absites.train.loop import load_checkpoint, make_samples, pick_device, predict

    device = pick_device("auto")
    model, state = load_checkpoint(path, device)
    library_path = path.parent / "templates.joblib"
    library = joblib.load(library_path) if library_path.exists() else None
    steps = EpitopeSteps(state["meta"])
    shape = bool(state["meta"].get("shape_features"))

    def run(graphs, surfaces=None):
        if library is not None:
            graphs = [with_template_features(g, library.features(g)) for g in graphs]
        if shape:
            graphs = [with_shape_features(g) for g in graphs]
        return steps.apply_all(graphs, predict(model, make_samples(graphs, surfaces), device))

    epochs = state["meta"].get("per_task_epochs") or {}

    def notes(graph: ResidueGraph, task: str | None = None) -> list[str]:
        said = [f"{t} scores from the weights of epoch {epochs[t] + 1} of training, its best validation {t} "
                "AUPRC (selection: per_task)" for t in (epochs if task is None else [task]) if t in epochs]
        if task == "paratope":  # templates and smoothing only concern the epitope
            return said
        return said + (library.notes(graph) if library is not None else []) + steps.notes(graph)

    run.notes = notes
    return run, state["meta"], state.get("thresholds", {})


def predict_on_split(run_dir: str | Path, split: str | SplitSpec, data: DataConfig, workers: int = 2,
                     split_column: str = "split") -> tuple[SplitData, dict[str, np.ndarray], dict[str, float], float]:
    """(the split's records, residue probabilities, the run's val thresholds, inference seconds)."""
    predict_fn, meta, thresholds = load_run(run_dir)
    features = FeatureConfig(**meta["features"])
    surface = SurfaceConfig(**meta["surface"]) if meta.get("surface") else None
    part = load_split(split, data, features, surface, workers, split_column)
    t0 = time.perf_counter()
    preds = predict_fn(part.graphs, part.surfaces)
    return part, preds, thresholds, time.perf_counter() - t0


def evaluate_run(run_dir: str | Path, split: str | SplitSpec, data: DataConfig, workers: int = 2,
                 split_column: str = "split") -> dict[str, Any]:
    """Metrics of a trained run on a split, at 0.5 and at the run's validation thresholds."""
    part, preds, thresholds, seconds = predict_on_split(run_dir, split, data, workers, split_column)
    return {"split": SplitSpec.of(split, split_column).describe(), "n_complexes": len(part.graphs), "skipped": part.skipped,
            "metrics": evaluate(part.graphs, preds, thresholds), "thresholds": thresholds,
            "inference_seconds": seconds, "preds": {k: np.asarray(v).tolist() for k, v in preds.items()}}
