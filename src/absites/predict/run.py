"""``absites predict``: binding-site predictions for structures the models have never seen.

Chain roles come from the arguments or are found automatically
(:mod:`absites.structure.roles`); every antibody–antigen pair in contact is
predicted (several copies in one file give several predictions). Separately
solved or modelled antibody and antigen files are combined first. An antibody
that does not touch its antigen is predicted anyway, as an unbound input, and
the result says so.

Models: the default bundle shipped in ``absites/models/default`` (one model per
task: the paratope model scores antibody residues, the epitope model antigen
residues) or any run directories given with ``--paratope-model`` / ``--epitope-model``.
"""

from __future__ import annotations

import json
import csv
import hashlib
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from absites import registry
from absites.config import DEFAULT_MODEL_DIR, FeatureConfig, SurfaceConfig
from absites.errors import AbsitesError, ChainError
from absites.structure.complex import ChainRoles, Complex, make_complex
from absites.structure.parse import Structure, read_structure, structure_stem

log = logging.getLogger(__name__)

# Surfaces drawn for the outputs (PLY, PNG, HTML) when no model reads surfaces: configs/surface/fast.yaml
# (~3 k vertices per protein, 0.1 s per complex instead of ~2 s at the 1 A default).
DISPLAY_SURFACE = SurfaceConfig(grid_angstrom=1.25, marching_step=2, k_eig=32)


@dataclass
class TaskModel:
    task: str
    predict: object  # callable(graphs, surfaces) -> {complex_id: probs}
    meta: dict
    threshold: float
    needs_surfaces: bool
    alone_dir: Path | None = None  # a partner-free run for this task's protein alone (shipped defaults)

    def for_one_protein(self) -> TaskModel:
        """The model that scores this task's protein without its partner: itself when partner-free, else
        its partner-free stand-in (loaded on first use: a complex never needs it)."""
        if self.partner_free or self.alone_dir is None:
            return self
        return load_task_model(self.alone_dir, self.task)

    @property
    def partner_free(self) -> bool:
        """Whether the model scores a protein from that protein alone (the baselines: per-residue and
        within-protein neighbourhood features); networks read the partner through their cross layers."""
        names = self.meta.get("member_models") or [self.meta.get("model")]  # an ensemble: all its members
        return all(name in registry.REGISTRY and registry.get(name).partner_free for name in names)


def load_task_model(run_dir: str | Path, task: str) -> TaskModel:
    from absites.train.run import load_run

    predict_fn, meta, thresholds = load_run(run_dir)
    return TaskModel(task, predict_fn, meta, float(thresholds.get(task, 0.5)), bool(meta.get("surface")))


def model_paths(paratope: str | Path | None = None, epitope: str | Path | None = None,
                fast: bool = False) -> tuple[dict[str, Path], dict[str, Path]]:
    """The run directory of each task's model (the shipped defaults unless given; ``fast``: the shipped
    partner-free members, ``models/default/alone.json``), and the shipped partner-free run of each task.

    Raises:
        AbsitesError: a model is missing.
    """
    alone_path = DEFAULT_MODEL_DIR / "alone.json"  # the shipped partner-free members, by task
    alone = {t: DEFAULT_MODEL_DIR / rel for t, rel in json.loads(alone_path.read_text()).items()} \
        if alone_path.exists() else {}
    if fast:
        if not alone:
            raise AbsitesError(f"--fast needs the shipped partner-free models ({alone_path}): run `make train-default`")
        paratope, epitope = alone["paratope"], alone["epitope"]
    paths = {"paratope": Path(paratope) if paratope else DEFAULT_MODEL_DIR / "paratope",
             "epitope": Path(epitope) if epitope else DEFAULT_MODEL_DIR / "epitope"}
    for task, path in paths.items():
        if not path.exists():
            raise AbsitesError(f"no {task} model at {path}: run `make train-default` or pass --{task}-model RUN_DIR")
    return paths, alone


def load_default_models(paratope: str | Path | None = None, epitope: str | Path | None = None,
                        fast: bool = False, network_worker: bool = True) -> dict[str, TaskModel]:
    """The shipped default models (or the run directories given), keyed by task. ``fast``: the shipped
    partner-free members alone (``models/default/alone.json``: gradient boosting, no torch to import).
    ``network_worker``: network members may load in a second process (:mod:`absites.train.worker`)."""
    paths, alone = model_paths(paratope, epitope, fast)
    if network_worker:
        from absites.train.worker import start_for

        start_for(list(paths.values()))  # network members load in a second process meanwhile (train/worker.py)
    models = {task: load_task_model(path, task) for task, path in paths.items()}
    for task, model in models.items():  # the shipped networks read the partner: members serve one protein alone
        if paths[task] == DEFAULT_MODEL_DIR / task:
            model.alone_dir = alone.get(task)
    return models


@dataclass
class Prediction:
    name: str
    roles: ChainRoles
    in_contact: bool
    outputs: dict[str, Path] = field(default_factory=dict)
    seconds: float = 0.0
    n_residues: int = 0
    mode: str = "complex"  # complex | antibody alone | antigen alone
    notes: list[str] = field(default_factory=list)


def combine_structures(antibody: Structure, antigen: Structure, warn: bool = True) -> Structure:
    """One structure from an antibody file and an antigen file; antigen chain ids renamed if they collide
    (with a warning unless ``warn`` is False)."""
    taken = set(antibody.chains)
    spare = [c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789" if c not in taken]
    rename = {}
    for c in antigen.chains:
        if c in taken:
            if not spare:
                raise ChainError("too many chains to combine antibody and antigen files")
            rename[c] = spare.pop(0)
            if warn:
                log.warning("antigen chain %s renamed %s (the antibody file uses %s)", c, rename[c], c)
        taken.add(rename.get(c, c))
        if c in spare:
            spare.remove(c)
    ag_chain = np.array([rename.get(c, c) for c in antigen.res_chain])
    return Structure(
        source=f"{antibody.source}+{antigen.source}",
        atom_coords=np.concatenate([antibody.atom_coords, antigen.atom_coords]),
        atom_names=np.concatenate([antibody.atom_names, antigen.atom_names]),
        atom_elements=np.concatenate([antibody.atom_elements, antigen.atom_elements]),
        atom_residue=np.concatenate([antibody.atom_residue, antigen.atom_residue + antibody.n_residues]),
        res_chain=np.concatenate([antibody.res_chain, ag_chain]),
        res_seqnum=np.concatenate([antibody.res_seqnum, antigen.res_seqnum]),
        res_icode=np.concatenate([antibody.res_icode, antigen.res_icode]),
        res_name=np.concatenate([antibody.res_name, antigen.res_name]),
        res_aa=np.concatenate([antibody.res_aa, antigen.res_aa]),
        n_unknown=antibody.n_unknown + antigen.n_unknown,
        non_protein_chains=antibody.non_protein_chains + antigen.non_protein_chains,
    )


def _check_chains(structure: Structure, chains) -> None:
    """Raise a ChainError naming every given chain that is not a protein chain of the file, and why."""
    missing = [c for c in chains if c is not None and c not in structure.chains]
    if not missing:
        return
    reasons = []
    for c in missing:
        if c.strip() == "":
            reasons.append("a blank chain id (name the chain, e.g. --heavy A)")
        elif c in structure.non_protein_chains:
            reasons.append(f"{c} holds no protein (nucleic acid, sugar or ligand only)")
        else:
            reasons.append(f"{c} is not in the file")
    raise ChainError(f"{structure.source}: {'; '.join(reasons)}; protein chains: {', '.join(structure.chains)}")


CLASH_ANGSTROM = 2.0  # heavy atoms of two proteins never come closer (a hydrogen bond is ~2.8 A)


def _warn_overlap(structure: Structure, n_antibody_chains: int, ab_path, ag_path) -> int:
    """Warn when separately supplied partners overlap in space (heavy-atom pairs under 2 Å): they were not
    placed as a complex (e.g. both models centred at the origin). Returns the number of such atoms."""
    from scipy.spatial import cKDTree

    ab_chains = set(structure.chains[:n_antibody_chains])
    is_ab = np.isin(structure.res_chain[structure.atom_residue], list(ab_chains))
    if is_ab.all() or not is_ab.any():
        return 0
    close = cKDTree(structure.atom_coords[~is_ab]).query_ball_point(structure.atom_coords[is_ab], CLASH_ANGSTROM)
    n = int(sum(1 for c in close if c))
    if n >= 10:
        log.warning("%s and %s overlap in space: %d antibody atoms lie within %.1f A of antigen atoms; they are "
                    "not a placed complex (dock or superpose them first, or read the output as unbound)",
                    ab_path, ag_path, n, CLASH_ANGSTROM)
    return n


def _no_antibody(source: str | Path, structure: Structure, hint: str = "") -> ChainError:
    """The error for a structure in which numbering finds no antibody: its chains, then ``hint``."""
    return ChainError(f"{source}: no antibody chain found (no heavy-chain variable domain among protein chains "
                      f"{', '.join(structure.chains) or 'none'}){hint}")


def resolve_roles(structure: Structure, heavy: str | None = None, light: str | None = None,
                  antigen: tuple[str, ...] | None = None) -> list[tuple[ChainRoles, bool]]:
    """Roles to predict, each with whether antibody and antigen are in contact.

    Raises:
        ChainError: no antibody chain, a given chain missing, or nothing to use as antigen.
    """
    from absites.structure.roles import chains_in_contact, detect_antibodies

    if not heavy and (light or antigen):  # a light chain or antigen named: find the heavy chain that goes with it
        _check_chains(structure, (light, *(antigen or ())))
        found = [a for a in detect_antibodies(structure) if a.heavy not in (antigen or ())
                 and (light is None or a.light == light)]
        if not found:
            raise ChainError(f"{structure.source}: no heavy chain found" + (f" paired with light chain {light}"
                                                                           if light else "") + "; give --heavy")
        heavy, light = found[0].heavy, light or found[0].light
    if heavy:
        _check_chains(structure, (heavy, light, *(antigen or ())))
        if not antigen:
            found = [a for a in detect_antibodies(structure) if a.heavy == heavy]
            antigen = found[0].antigen if found and found[0].antigen else tuple(
                c for c in structure.chains if c not in (heavy, light))
        if not antigen:
            raise ChainError(f"{structure.source}: no antigen chain besides {heavy}{'+' + light if light else ''}")
        roles = ChainRoles(heavy, light, tuple(antigen))
        return [(roles, chains_in_contact(structure, roles.antibody, roles.antigen))]
    found = detect_antibodies(structure)
    if not found:
        raise _no_antibody(structure.source, structure)
    with_antigen = [(a.roles(), True) for a in found if a.antigen]
    if with_antigen:
        return with_antigen
    # no antibody touches anything: unbound input, predict against every other protein chain
    antibody_chains = {c for a in found for c in (a.heavy, a.light) if c}
    others = tuple(c for c in structure.chains if c not in antibody_chains)
    if not others:
        raise ChainError(f"{structure.source}: only antibody chains ({', '.join(sorted(antibody_chains))}); "
                         "no antigen to predict against")
    first = found[0]
    return [(ChainRoles(first.heavy, first.light, others), False)]


def predict_complex(complex_: Complex, models: dict[str, TaskModel], out_dir: Path, name: str,
                    in_contact: bool, features: FeatureConfig | None = None, surface: SurfaceConfig | None = None,
                    write_surfaces: bool = True, allow_unnumbered: bool = False, mode: str = "complex") -> Prediction:
    """Predict, and write the outputs of, one complex (or one protein alone: ``complex_.roles.alone``).

    ``allow_unnumbered``: antibody chains ANARCI cannot number are predicted without CDRs (with a warning
    and a note) instead of failing; for chains the user named explicitly."""
    from absites.graph.build import graph_from_complex
    from absites.predict import outputs
    from absites.structure.labels import atom_partner_distance
    from absites.surface.build import protein_surface
    from absites.train.worker import run_notes

    t0 = time.perf_counter()
    features = features or FeatureConfig(**models["epitope"].meta["features"])
    graph = graph_from_complex(complex_, features, require_contact=False, allow_unnumbered=allow_unnumbered)
    ab = graph.is_antibody.astype(bool)
    sides = [(task, protein, mask) for task, protein, mask in (("paratope", "antibody", ab), ("epitope", "antigen", ~ab))
             if mask.any()]
    need_surf = write_surfaces or any(models[t].needs_surfaces for t, _, _ in sides)
    model_surface = next((m.meta["surface"] for m in models.values() if m.meta.get("surface")), None)
    surf_cfg = surface or (SurfaceConfig(**model_surface) if model_surface else DISPLAY_SURFACE)
    surfaces = None
    if need_surf:
        distance = atom_partner_distance(complex_, features.contact_cutoff_angstrom)
        surfaces = tuple(protein_surface(complex_, graph, protein, surf_cfg, features.contact_cutoff_angstrom,
                                         distance) for _, protein, _ in sides)
    surf_map = {graph.complex_id: surfaces} if surfaces else None
    if surfaces and write_surfaces:
        outputs.import_picture_modules()  # now, while a network worker computes, rather than after it
    prob = np.zeros(graph.num_nodes)
    for task, _, mask in sides:
        m = models[task]
        prob[mask] = np.asarray(m.predict([graph], surf_map if m.needs_surfaces else None)[graph.complex_id])[mask]
    thresholds = {t: m.threshold for t, m in models.items()}
    unnumbered = tuple(c for c in complex_.roles.antibody if not (graph.numbering[graph.res_chain == c] != "").any())
    notes = [f"chain {c} not numbered (no antibody variable domain ANARCI can place): predicted without CDRs, "
             "every residue a paratope candidate" for c in unnumbered]
    for task, _, _ in sides:  # what a model says about this input (e.g. epitope templates found)
        notes += run_notes(models[task].predict, graph, task)
    notes = list(dict.fromkeys(notes))  # one model may serve both sides
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = out_dir / name
    rows = outputs.residue_rows(name, complex_, graph, prob, thresholds, mode=mode, unnumbered=unnumbered)
    files: dict[str, Path] = {}
    files["csv"], files["json"] = outputs.write_tables(rows, stem)
    pdb_path, files["cif"] = outputs.write_structures(complex_, prob, stem)
    if pdb_path is not None:
        files["pdb"] = pdb_path
    if surfaces and write_surfaces:
        vprob = [prob[s.vertex_residue] for s in surfaces]
        for surf, ply in zip(surfaces, outputs.write_ply_files(surfaces, vprob, stem)):
            files[f"ply_{surf.protein}"] = ply
        if mode != "complex":
            title = f"{name}: {'+'.join(complex_.roles.antibody or complex_.roles.antigen)} ({mode})"
        else:
            title = f"{name}: {'+'.join(complex_.roles.antibody)} vs {'+'.join(complex_.roles.antigen)}" + (
                "" if in_contact else " (not in contact: unbound prediction)")
        cdr = [graph.cdr[s.vertex_residue] > 0 if s.protein == "antibody" else None for s in surfaces]
        files["png"] = outputs.write_picture(surfaces, vprob, stem, title, cdr)
        files["html"] = outputs.write_html(surfaces, vprob, stem, title, cdr=cdr)
    return Prediction(name, complex_.roles, in_contact, files, time.perf_counter() - t0, graph.num_nodes, mode, notes)


def predict_one_protein(path: str | Path, out_dir: str | Path, models: dict[str, TaskModel] | None = None,
                        side: str = "antibody", heavy: str | None = None, light: str | None = None,
                        write_surfaces: bool = True, name: str | None = None) -> Prediction:
    """Predict from one protein without its partner: the paratope of an antibody (``side="antibody"``;
    heavy / light chains found by numbering unless given) or the antibody-agnostic epitope propensity of
    an antigen (``side="antigen"``: every protein chain of the file).

    Raises:
        AbsitesError: the task's model reads the partner (only partner-free models, such as the shipped
            ones, can predict one protein alone); no antibody chain in an antibody file.
    """
    from absites.structure.roles import detect_antibodies

    if side not in ("antibody", "antigen"):
        raise AbsitesError(f"side must be 'antibody' or 'antigen', not {side!r}")
    models = models or load_default_models()
    task, partner = ("paratope", "antigen") if side == "antibody" else ("epitope", "antibody")
    model = models[task].for_one_protein()
    models = {**models, task: model}
    if not model.partner_free:
        raise AbsitesError(
            f"the {task} model ({model.meta.get('model')}) reads the {partner}: predicting from the {side} alone "
            f"needs a model trained without partner information (the shipped models; or --{task}-model RUN of a "
            "prior or gbm run)")
    path = Path(path)
    structure = read_structure(path)
    explicit = bool(heavy)  # a chain the user named is predicted even when numbering cannot place it
    if side == "antibody":
        if heavy:
            _check_chains(structure, (heavy, light))
        else:
            found = detect_antibodies(structure)
            if not found:
                raise _no_antibody(path, structure, "; name it with --heavy")
            if len(found) > 1:
                log.warning("%s: %d antibodies; predicting the first (H=%s L=%s); choose with --heavy/--light",
                            path, len(found), found[0].heavy, found[0].light or "-")
            heavy, light = found[0].heavy, found[0].light
        roles = ChainRoles(heavy, light, (), alone=True)
    else:
        roles = ChainRoles("", None, structure.chains, alone=True)
    stem = output_name(name or structure_stem(path))
    complex_ = make_complex(structure, roles, stem)
    return predict_complex(complex_, models, Path(out_dir), stem, in_contact=False, write_surfaces=write_surfaces,
                           allow_unnumbered=explicit, mode=f"{side} alone")


MAX_NAME_BYTES = 160  # output stems: the longest suffix added is ~20 bytes, file systems allow 255


def output_name(name: str) -> str:
    """``name`` as an output file stem: path separators replaced, and cut (with a hash, so it stays
    unique) when it would make file names longer than a file system allows."""
    name = name.replace(os.sep, "_").replace("/", "_") or "structure"
    if len(name.encode()) <= MAX_NAME_BYTES:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:10]
    return name.encode()[: MAX_NAME_BYTES - 11].decode(errors="ignore") + "-" + digest


def prepare_out_dir(out_dir: str | Path) -> Path:
    """Create ``out_dir`` and check that files can be written there, before any computing.

    Raises:
        AbsitesError: the path is a file, cannot be created, or is not writable.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise AbsitesError(f"output folder {out} is a file, not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".absites-write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise AbsitesError(f"cannot write to output folder {out}: {exc.strerror or exc}") from None
    return out


class OutputLock:
    """One ``absites predict`` at a time per output folder: a second one fails at once instead of
    overwriting the first one's files and manifest. A lock left by a killed run is taken over."""

    def __init__(self, out_dir: Path):
        self.path = Path(out_dir) / ".absites-predict.lock"

    def __enter__(self) -> OutputLock:
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                try:
                    pid = int(self.path.read_text().strip() or 0)
                except (OSError, ValueError):
                    pid = 0
                if pid and _alive(pid):
                    raise AbsitesError(f"another absites predict (pid {pid}) is writing to {self.path.parent}; "
                                       "wait for it or choose another --out") from None
                self.path.unlink(missing_ok=True)  # stale: its process is gone
                continue
            with os.fdopen(fd, "w") as fh:
                fh.write(str(os.getpid()))
            return self
        raise AbsitesError(f"cannot lock output folder {self.path.parent}")

    def __exit__(self, *exc) -> None:
        self.path.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def predict_file(path: str | Path, out_dir: str | Path, models: dict[str, TaskModel] | None = None,
                 heavy: str | None = None, light: str | None = None, antigen: tuple[str, ...] | None = None,
                 antigen_file: str | Path | None = None, write_surfaces: bool = True,
                 name: str | None = None) -> list[Prediction]:
    """Predict every antibody–antigen pair of ``path`` (or of ``path`` + ``antigen_file``).

    ``name``: the output stem (default: the file name without its structure suffixes).
    """
    models = models or load_default_models()
    explicit = bool(heavy)  # a chain the user named is predicted even when numbering cannot place it
    path = Path(path)
    structure = read_structure(path)
    base = name or structure_stem(path)
    if antigen_file is not None:
        ag = read_structure(antigen_file)
        from absites.structure.roles import detect_antibodies

        found = detect_antibodies(structure)
        if not found and not heavy:
            swapped = " The antigen file holds one: are the two files swapped?" if detect_antibodies(ag) else ""
            raise _no_antibody(path, structure, f"; name it with --heavy.{swapped}")
        heavy, light = (heavy, light) if heavy else (found[0].heavy, found[0].light)
        antibody_chains = [c for c in (heavy, light) if c]
        structure = combine_structures(structure.select_chains(antibody_chains), ag)
        _warn_overlap(structure, len(antibody_chains), path, antigen_file)
        antigen = tuple(structure.chains[len(antibody_chains):])
        base = name or f"{base}+{structure_stem(antigen_file)}"
    todo = resolve_roles(structure, heavy, light, antigen)
    results = []
    for roles, in_contact in todo:
        name = output_name(base if len(todo) == 1 else f"{base}_{roles.heavy}{roles.light or ''}_{''.join(roles.antigen)}")
        if not in_contact:
            log.warning("%s: antibody %s and antigen %s are not in contact: predicting as an unbound input",
                        path, "+".join(roles.antibody), "+".join(roles.antigen))
        complex_ = make_complex(structure, roles, name)
        results.append(predict_complex(complex_, models, Path(out_dir), name, in_contact,
                                       write_surfaces=write_surfaces, allow_unnumbered=explicit))
    return results


def unique_names(paths: list[Path]) -> list[str]:
    """Output stems for a batch: each file's stem, with ``_2``, ``_3``... where two files share one."""
    seen: dict[str, int] = {}
    names = []
    for p in paths:
        stem = structure_stem(p)
        seen[stem] = seen.get(stem, 0) + 1
        names.append(stem if seen[stem] == 1 else f"{stem}_{seen[stem]}")
    return names


MANIFEST_COLUMNS = ["name", "status", "reason", "heavy", "light", "antigen", "in_contact", "csv", "input"]


def predict_batch(paths: list[Path], out_dir: str | Path, models: dict[str, TaskModel] | None = None,
                  write_surfaces: bool = True, progress: bool = True, workers: int = 1,
                  model_dirs: tuple[str | Path | None, str | Path | None, bool] = (None, None, False),
                  ) -> tuple[list[Prediction], list[tuple[str, str]]]:
    """Predict many files; a failing file is recorded in ``<out>/manifest.csv`` and the rest carry on.

    Every exception of one input is caught and recorded (an absites error by its message, anything else
    by its type and message). Rows of earlier runs into the same folder are kept unless redone.

    ``workers`` > 1: the files are shared among that many processes (joblib's loky backend), each loading the
    models of ``model_dirs`` (``load_default_models``' paratope, epitope, fast) once; ``models`` is not used.
    Outputs, results and manifest are those of one process, in input order. A process that dies (out of memory,
    a crash in a library) stops the pool: the files not yet answered are tried once more in a new pool, and
    those still unanswered after that are recorded as failed, with the reason.
    """
    from tqdm import tqdm

    out = prepare_out_dir(out_dir)
    items = list(enumerate(zip(paths, unique_names(paths))))
    answers: dict[int, tuple[list[Prediction], tuple[str, str] | None, list[list[str]]]] = {}
    bar = tqdm(total=len(items), desc="predict", unit="file", disable=not progress)
    if workers > 1 and len(items) > 1:
        from joblib import Parallel, delayed

        model_paths(*model_dirs)  # a missing model fails here, once, not in every process
        why = ""
        for attempt in (1, 2):  # a process that dies breaks the pool: the files not answered get one more try
            todo = [(i, p, name) for i, (p, name) in items if i not in answers]
            jobs = Parallel(n_jobs=min(workers, len(todo)), return_as="generator_unordered")(
                delayed(_batch_item_in_worker)(i, p, name, out, model_dirs, write_surfaces) for i, p, name in todo)
            try:
                for i, answer in jobs:
                    answers[i] = answer
                    bar.update()
                break
            except Exception as exc:  # noqa: BLE001 - a process died (out of memory, a crash in a library)
                why = f"prediction process stopped ({type(exc).__name__}: {exc})".replace("\n", " ")
                log.warning("%s; %d file(s) not predicted%s", why, len(items) - len(answers),
                            ", trying them again" if attempt == 1 else "")
        for i, (p, name) in items:
            if i not in answers:
                answers[i] = ([], (str(p), why), [_failure_row(name, "failed", why, p)])
    else:
        models = models or load_default_models(*model_dirs)
        for i, (p, name) in items:
            answers[i] = _batch_item(p, name, out, models, write_surfaces)
            bar.update()
    bar.close()
    done, failed, rows = [], [], []
    for i in sorted(answers):
        results, failure, item_rows = answers[i]
        done += results
        failed += [failure] if failure else []
        rows += item_rows
    write_batch_manifest(out / "manifest.csv", rows)
    return done, failed


def _batch_item(p: Path, name: str, out: Path, models: dict[str, TaskModel], write_surfaces: bool):
    """One file of a batch: (predictions, (path, why) when it failed, its manifest rows)."""
    try:
        results = predict_file(p, out, models, write_surfaces=write_surfaces, name=name)
    except AbsitesError as exc:
        return [], (str(p), str(exc)), [_failure_row(name, "skipped", str(exc), p)]
    except Exception as exc:  # noqa: BLE001 - one input must never stop the batch
        log.debug("unexpected failure on %s", p, exc_info=True)
        why = f"unexpected {type(exc).__name__}: {exc}"
        return [], (str(p), why), [_failure_row(name, "failed", why, p)]
    rows = [[r.name, "ok", "", r.roles.heavy, r.roles.light or "", ";".join(r.roles.antigen),
             str(int(r.in_contact)), str(r.outputs.get("csv", "")), str(p)] for r in results]
    return results, None, rows


def _failure_row(name: str, status: str, why: str, path: Path) -> list[str]:
    """A manifest row (:data:`MANIFEST_COLUMNS`) of an input that gave no prediction."""
    return [name, status, why, "", "", "", "", "", str(path)]


_PROCESS_MODELS: dict[tuple, dict[str, TaskModel]] = {}  # a batch worker process's models, loaded on its first file


def _batch_item_in_worker(i: int, p: Path, name: str, out: Path, model_dirs: tuple, write_surfaces: bool):
    key = tuple(str(d) if d is not None else None for d in model_dirs)
    if key not in _PROCESS_MODELS:  # no network worker: the batch's processes already fill the cores
        _PROCESS_MODELS[key] = load_default_models(*model_dirs, network_worker=False)
    return i, _batch_item(p, name, out, _PROCESS_MODELS[key], write_surfaces)


def write_batch_manifest(path: Path, rows: list[list[str]]) -> Path:
    """Write ``rows`` to the batch manifest, keeping earlier runs' rows for other names (atomic)."""
    kept: list[list[str]] = []
    if path.exists():
        names = {r[0] for r in rows}
        with path.open(newline="") as fh:
            for old in csv.DictReader(fh):
                if old.get("name") not in names:
                    kept.append([old.get(c, "") or "" for c in MANIFEST_COLUMNS])
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(MANIFEST_COLUMNS)
        w.writerows(kept + rows)
    tmp.replace(path)
    return path
