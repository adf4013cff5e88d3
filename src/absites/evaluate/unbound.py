"""Bound versus unbound inputs: trained models scored on the docking cases of ``docking_unbound/``.

Each case holds the antibody and antigen cut from a complex (bound) and the same two proteins solved
on their own in other PDB entries (unbound, superposed onto the bound ones). A model predicts from the
bound pair and from the unbound pair exactly as ``absites predict --antibody/--antigen`` would; the
labels always come from the bound pair (a heavy atom within 4.5 Å of the partner) and are carried to
the unbound residues by per-chain sequence alignment: antibody heavy ↔ heavy and light ↔ light (found
by numbering), antigen chains paired one-to-one by alignment identity. Only residues aligned to an
identical residue are scored, in both columns, so bound and unbound are scored over the same residues
(paratope: those inside the CDRs of both numberings; epitope: every mapped antigen residue).
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from Bio.Align import PairwiseAligner
from joblib import Parallel, delayed
from scipy.optimize import linear_sum_assignment

from absites.config import (
    DEFAULT_MODEL_DIR,
    FeatureConfig,
    SurfaceConfig,
    load_data_config,
    load_feature_config,
)
from absites.errors import AbsitesError, ChainError, ConfigError
from absites.evaluate.bench_config import (
    check_source,
    git_commit,
    load_benchmark_config,
    read_kind,
    row_configs,
    run_dir_of,
)
from absites.evaluate.bench_tables import write_summary_csv
from absites.graph.build import graph_from_complex
from absites.metrics import all_metrics
from absites.predict.run import combine_structures
from absites.provenance import machine_description
from absites.structure.complex import ChainRoles, make_complex
from absites.structure.parse import read_structure
from absites.structure.roles import detect_antibodies
from absites.surface.build import complex_surfaces
from absites.train.run import load_run, run_exists, train_run

log = logging.getLogger(__name__)

CASE_FILES = ("r_b", "l_b", "r_u", "l_u")  # receptor = antibody, ligand = antigen; bound / unbound
SIDES = ("paratope", "epitope")


@dataclass(frozen=True)
class UnboundCase:
    case_id: str
    pdb_id: str
    files: dict[str, Path]  # CASE_FILES -> path
    chains: dict[str, tuple[str, ...]]


def read_cases(index: str | Path, skipped: list[str] | None = None) -> list[UnboundCase]:
    """The cases of a ``docking_unbound/index.csv`` (paths relative to its folder); a row with a missing
    column or file is left out and, when ``skipped`` is given, recorded there with its reason."""
    index = Path(index)
    if not index.is_file():
        raise AbsitesError(f"{index}: no docking_unbound index (see the data README)")
    cases = []
    with index.open(newline="") as fh:
        for line, row in enumerate(csv.DictReader(fh), start=2):
            try:
                files = {k: index.parent / row[f"file_{k}"] for k in CASE_FILES}
                chains = {k: tuple(row[f"chains_{k}"].strip()) for k in CASE_FILES}
                missing = [str(p) for p in files.values() if not p.is_file()]
                if missing:
                    raise AbsitesError(f"file(s) not found: {', '.join(missing)}")
                cases.append(UnboundCase(row["case_id"], row["pdb_id"], files, chains))
            except (KeyError, TypeError, AbsitesError) as exc:
                reason = f"{index}:{line}: {exc if isinstance(exc, AbsitesError) else f'missing column {exc}'}"
                log.warning("skipped %s", reason)
                if skipped is not None:
                    skipped.append(reason)
    return cases


def align_residues(seq_from: str, seq_to: str) -> np.ndarray:
    """For every residue of ``seq_from``, the index of the identical residue of ``seq_to`` it aligns to in a
    global alignment, or -1 (a gap or a different amino acid). Shape ``(len(seq_from),)``."""
    out = np.full(len(seq_from), -1, dtype=np.int64)
    if not seq_from or not seq_to:
        return out
    aligner = PairwiseAligner(mode="global", match_score=2.0, mismatch_score=-1.0, open_gap_score=-5.0,
                              extend_gap_score=-0.5, end_gap_score=0.0)
    alignment = aligner.align(seq_from, seq_to)[0]
    for (a0, a1), (b0, b1) in zip(*alignment.aligned):
        i = np.arange(a0, a1)
        j = np.arange(b0, b1)
        same = np.array([seq_from[p] == seq_to[q] and seq_from[p] != "X" for p, q in zip(i, j)], dtype=bool)
        out[i[same]] = j[same]
    return out


def pair_chains(seqs_from: dict[str, str], seqs_to: dict[str, str]) -> list[tuple[str, str, np.ndarray]]:
    """One-to-one chain pairs maximising the identical aligned residues (Hungarian assignment), each with
    its residue map; pairs sharing no residue are dropped."""
    a, b = list(seqs_from), list(seqs_to)
    maps = {(x, y): align_residues(seqs_from[x], seqs_to[y]) for x in a for y in b}
    score = np.array([[(maps[x, y] >= 0).sum() for y in b] for x in a], dtype=float)
    rows, cols = linear_sum_assignment(-score)
    return [(a[i], b[j], maps[a[i], b[j]]) for i, j in zip(rows, cols) if score[i, j] > 0]


@dataclass(frozen=True, eq=False)
class CaseRecords:
    """Bound and unbound residue graphs of one case; ``u_to_b`` maps unbound residues to bound ones (-1:
    unmapped). ``unbound.y`` holds the bound labels carried over (0 where unmapped)."""

    bound: object  # ResidueGraph
    unbound: object
    u_to_b: np.ndarray
    surfaces: dict  # surface config tag -> {"bound": (ab, ag), "unbound": (ab, ag)}


def _antibody_roles(structure, given: tuple[str, ...]):

    found = [a for a in detect_antibodies(structure) if a.heavy in given]
    if not found:
        raise ChainError(f"{structure.source}: no heavy chain found among {', '.join(given)}")
    return found[0].heavy, found[0].light


def _complex(case: UnboundCase, state: str):

    ab = read_structure(case.files[f"r_{state}"]).select_chains(case.chains[f"r_{state}"])
    ag = read_structure(case.files[f"l_{state}"]).select_chains(case.chains[f"l_{state}"])
    heavy, light = _antibody_roles(ab, case.chains[f"r_{state}"])
    ab = ab.select_chains([c for c in (heavy, light) if c])
    both = combine_structures(ab, ag, warn=False)
    n_ab = len(ab.chains)
    roles = ChainRoles(heavy, light, tuple(both.chains[n_ab:]))
    return make_complex(both, roles, f"{case.case_id}_{state}")


def case_records(case: UnboundCase, features: FeatureConfig, surfaces: dict[str, SurfaceConfig]) -> CaseRecords:
    """Graphs (and surfaces for each named config) of the bound and unbound inputs of one case.

    Raises:
        AbsitesError: a file that cannot be read, an antibody that cannot be numbered, a bound pair not
            in contact, or unbound chains that share no residue with the bound ones.
    """
    cx = {s: _complex(case, s) for s in ("b", "u")}
    bound = graph_from_complex(cx["b"], features)
    unbound = graph_from_complex(cx["u"], features, require_contact=False)
    u_to_b = np.full(unbound.num_nodes, -1, dtype=np.int64)
    rb, ru = cx["b"].roles, cx["u"].roles
    groups = [({ru.heavy: "H"}, {rb.heavy: "H"})]
    if ru.light and rb.light:
        groups.append(({ru.light: "L"}, {rb.light: "L"}))
    groups.append(({c: c for c in ru.antigen}, {c: c for c in rb.antigen}))
    for g_u, g_b in groups:
        seq_u = {c: cx["u"].structure.sequence(c) for c in g_u}
        seq_b = {c: cx["b"].structure.sequence(c) for c in g_b}
        for cu, cb, res_map in pair_chains(seq_u, seq_b):
            iu = np.flatnonzero(unbound.res_chain == cu)
            ib = np.flatnonzero(bound.res_chain == cb)
            ok = res_map >= 0
            u_to_b[iu[ok]] = ib[res_map[ok]]
    if not (u_to_b >= 0).any():
        raise AbsitesError(f"{case.case_id}: no unbound residue aligns to a bound one")
    y = np.where(u_to_b >= 0, bound.y[np.maximum(u_to_b, 0)], 0).astype(np.float32)
    unbound = dataclasses.replace(unbound, y=y)
    surf = {}
    for tag, cfg in surfaces.items():
        surf[tag] = {"bound": complex_surfaces(cx["b"], bound, cfg, features.contact_cutoff_angstrom),
                     "unbound": complex_surfaces(cx["u"], unbound, cfg, features.contact_cutoff_angstrom)}
    return CaseRecords(bound, unbound, u_to_b, surf)


def scored_pairs(rec: CaseRecords, task: str) -> tuple[np.ndarray, np.ndarray]:
    """(unbound residue indices, bound residue indices) scored for ``task``: mapped residues, inside the
    CDRs of both numberings for the paratope, antigen residues for the epitope."""
    iu = np.flatnonzero(rec.u_to_b >= 0)
    ib = rec.u_to_b[iu]
    if task == "paratope":
        keep = rec.unbound.is_antibody[iu] & rec.bound.is_antibody[ib] & (rec.unbound.cdr[iu] > 0) & (rec.bound.cdr[ib] > 0)
    else:
        keep = ~rec.unbound.is_antibody[iu] & ~rec.bound.is_antibody[ib]
    return iu[keep], ib[keep]


def mapping_counts(rec: CaseRecords) -> dict[str, int]:
    """Residues scored per task, and unbound / bound residues left without an identical partner."""
    out = {f"scored_{t}": int(scored_pairs(rec, t)[0].size) for t in SIDES}
    out["unmapped_unbound"] = int((rec.u_to_b < 0).sum())
    out["unmapped_bound"] = int(rec.bound.num_nodes - np.unique(rec.u_to_b[rec.u_to_b >= 0]).size)
    out["positives_paratope"] = int(rec.bound.y[scored_pairs(rec, "paratope")[1]].sum())
    out["positives_epitope"] = int(rec.bound.y[scored_pairs(rec, "epitope")[1]].sum())
    return out


# --------------------------------------------------------------------------------------------- benchmark


@dataclass(frozen=True)
class UnboundSource:
    """Trained runs to score: the rows (all when None) of one benchmark, every seed of its config."""

    bench: str
    rows: tuple[str, ...] | None = None


@dataclass(frozen=True)
class UnboundBenchConfig:
    name: str
    title: str
    cases: str  # index of the cases, relative to the data root
    sources: tuple[UnboundSource, ...]
    shipped: bool = True
    note: str = ""
    data: str = "default"
    features: str = "default"


def is_unbound_config(raw: dict) -> bool:
    return raw.get("kind") == "unbound"


def load_unbound_config(name_or_path: str | Path) -> UnboundBenchConfig:
    """``configs/bench/<name>.yaml`` (or a path) with ``kind: unbound``; its sources' benchmark configs and
    rows are checked to exist."""
    path, raw = read_kind(name_or_path, "unbound")
    return unbound_config(path.stem, raw, path)


def unbound_config(name: str, raw: dict, path: Path) -> UnboundBenchConfig:
    allowed = {"kind", "title", "note", "cases", "sources", "shipped", "data", "features"}
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}")
    try:
        sources = tuple(UnboundSource(s["bench"], tuple(s["rows"]) if s.get("rows") else None)
                        for s in raw.get("sources", []))
    except (KeyError, TypeError) as exc:
        raise ConfigError(f"{path}: sources need bench[/rows]: {exc}") from None
    for src in sources:
        check_source(src.bench, src.rows)
    return UnboundBenchConfig(name=name, title=raw.get("title", name), cases=raw.get("cases",
                              "docking_unbound/index.csv"), sources=sources, shipped=bool(raw.get("shipped", True)),
                              note=raw.get("note", ""), data=raw.get("data", "default"),
                              features=raw.get("features", "default"))


SHIPPED = "shipped defaults"  # the label of the shipped models' row


@dataclass(frozen=True)
class ScoredRun:
    label: str  # "<bench>/<row>", or SHIPPED for the shipped models
    seed: int
    paratope_run: Path
    epitope_run: Path
    # what the run predicts with (:func:`models_fingerprint`, :func:`run_fingerprint`): a stored row is rescored
    # when it differs, since folders change in place (retrained shipped models, `absites bench --force`)
    fingerprint: str | None = None


def models_fingerprint(folder: Path) -> str:
    """SHA-256 of every file under ``folder`` but the model cards (names and bytes): what the shipped models
    predict with. They are retrained in place, so their stored row is rescored when this changes."""
    digest = hashlib.sha256()
    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file() and p.suffix != ".md"):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def run_fingerprint(run_dir: Path) -> str:
    """:func:`models_fingerprint` of a benchmark run folder and, for an ensemble, of its members' folders (an
    ensemble's own folder holds only its weights; its members are other runs, retrained on their own)."""
    run_dir = Path(run_dir)
    parts = [models_fingerprint(run_dir)]
    if (run_dir / "ensemble.json").exists():
        for member in json.loads((run_dir / "ensemble.json").read_text()).get("members", []):
            parts.append(models_fingerprint(run_dir / member))
    return hashlib.sha256(" ".join(parts).encode()).hexdigest()


def reusable(row: dict | None, run: ScoredRun) -> bool:
    """Whether a stored row still stands for ``run``: the same fingerprint, or a benchmark row stored before rows
    carried one (kept as it was; ``--force`` rescores every row)."""
    if row is None:
        return False
    return row.get("fingerprint") == run.fingerprint or (row.get("fingerprint") is None and run.label != SHIPPED)


def _build_case(case, features, surfaces):
    try:
        return case.case_id, case_records(case, features, surfaces), ""
    except AbsitesError as exc:
        return case.case_id, None, str(exc)
    except Exception as exc:  # noqa: BLE001 - one case must never stop the benchmark
        log.debug("unexpected failure on %s", case.case_id, exc_info=True)
        return case.case_id, None, f"unexpected {type(exc).__name__}: {exc}"


def build_cases(index: str | Path, features: FeatureConfig, surfaces: dict[str, SurfaceConfig] | None = None,
                skipped: list[str] | None = None, workers: int = 1) -> dict[str, CaseRecords]:
    """Every case of a ``docking_unbound/index.csv`` built into records (case id -> records, in index order), on
    ``workers`` processes. A row that cannot be read (:func:`read_cases`) or a case that cannot be built is left
    out, logged and, when ``skipped`` is given, recorded there with its reason; the others are kept."""
    cases = read_cases(index, skipped)
    built = Parallel(n_jobs=workers)(delayed(_build_case)(c, features, surfaces or {}) for c in cases)
    for case_id, rec, reason in built:
        if rec is None:
            log.warning("skipped %s: %s", case_id, reason)
            if skipped is not None:
                skipped.append(f"{case_id}: {reason}")
    return {case_id: rec for case_id, rec, _ in built if rec is not None}


def collect_runs(cfg: UnboundBenchConfig, runs_root: Path,
                 stored: frozenset[tuple[str, int]] = frozenset()
                 ) -> tuple[list[ScoredRun], list[str], list[tuple[str, int]]]:
    """The runs to score: every seed of every source row with a checkpoint (baseline runs missing one
    are trained here; missing network runs are listed, not trained), plus the shipped models. A (label,
    seed) in ``stored`` (a row scored before) whose checkpoint is gone is kept as it was scored, neither
    trained again nor listed as missing. The third list: the (label, seed) of the rows of the table, runs
    and kept rows, in the config's order."""
    runs, missing, order = [], [], []
    for src in cfg.sources:
        bench = load_benchmark_config(src.bench)
        for row in [bench.row(r) for r in src.rows] if src.rows else bench.rows:
            for seed in bench.seeds:
                run_dir = run_dir_of(runs_root, bench.name, row.label, seed)
                has = run_exists(run_dir)
                key = (f"{bench.name}/{row.label}", seed)
                if not has and key in stored:
                    order.append(key)
                    continue
                model, training, surface = row_configs(bench, row, seed, 1)
                if not has and model.is_baseline:
                    log.info("training missing baseline run %s", run_dir)
                    train_run(model, training, load_data_config(bench.data), load_feature_config(bench.features),
                              surface, run_dir, workers=1, train_split=bench.splits["train"],
                              val_split=bench.splits["val"])
                    has = True
                if has:
                    runs.append(ScoredRun(f"{bench.name}/{row.label}", seed, run_dir, run_dir,
                                          run_fingerprint(run_dir)))
                    order.append(key)
                else:
                    missing.append(f"{bench.name}/{row.label} seed {seed}")
    if cfg.shipped:
        runs.append(ScoredRun(SHIPPED, 0, DEFAULT_MODEL_DIR / "paratope", DEFAULT_MODEL_DIR / "epitope",
                              models_fingerprint(DEFAULT_MODEL_DIR)))
        order.append((SHIPPED, 0))
    return runs, missing, order


def score_run(run: ScoredRun, records: dict[str, CaseRecords]) -> dict:
    """Pooled bound and unbound metrics of one run over the cases (the run's validation thresholds)."""
    out: dict = {"label": run.label, "seed": run.seed}
    cache: dict[Path, tuple] = {}
    for task, run_dir in (("paratope", run.paratope_run), ("epitope", run.epitope_run)):
        if run_dir not in cache:  # one run serving both tasks predicts once
            predict_fn, meta, thresholds = load_run(run_dir)
            tag = SurfaceConfig(**meta["surface"]).cache_tag() if meta.get("surface") else None
            probs = {}
            for state in ("bound", "unbound"):
                graphs = [getattr(rec, state) for rec in records.values()]
                surf = {getattr(rec, state).complex_id: rec.surfaces[tag][state] for rec in records.values()} if tag else None
                probs[state] = predict_fn(graphs, surf)
            cache[run_dir] = (probs, meta, thresholds)
        probs, meta, thresholds = cache[run_dir]
        out["n_train"] = meta["data"]["n_train"]
        for state in ("bound", "unbound"):
            ys, scores = [], []
            for rec in records.values():
                iu, ib = scored_pairs(rec, task)
                prob = np.asarray(probs[state][getattr(rec, state).complex_id])
                ys.append(rec.bound.y[ib].astype(bool))
                scores.append(prob[ib] if state == "bound" else prob[iu])
            m = all_metrics(np.concatenate(ys), np.concatenate(scores), thresholds.get(task, 0.5))
            for k in ("auroc", "auprc", "mcc"):
                out[f"{task}_{k}_{state}"] = m[k]
    return out


def surface_configs(runs: list[ScoredRun]) -> dict[str, SurfaceConfig]:
    """The surface configs the runs' models read, by cache tag (the cases build these surfaces)."""
    out = {}
    for run in runs:
        for run_dir in {run.paratope_run, run.epitope_run}:
            meta = load_run(run_dir)[1]
            if meta.get("surface"):
                cfg = SurfaceConfig(**meta["surface"])
                out[cfg.cache_tag()] = cfg
    return out


def run_unbound(cfg: UnboundBenchConfig, out_root: str | Path, runs_root: str | Path, workers: int = 2,
                command: str = "", force: bool = False) -> Path:
    """Score every run of the config's sources (and the shipped models) on the bound and unbound inputs of
    every case; write ``results/<name>/table.md``, ``table.csv``, ``cases.csv`` and ``runs.json``.

    Resumable: rows already in ``runs.json`` for the same (model, seed), the same cases and the same
    :attr:`ScoredRun.fingerprint` are kept (:func:`reusable`: a run retrained in place is scored again), and
    so are benchmark rows whose run folders are gone since they were scored (``force`` drops them all)."""
    data, features = load_data_config(cfg.data), load_feature_config(cfg.features)
    out_dir = Path(out_root) / cfg.name
    out_dir.mkdir(parents=True, exist_ok=True)
    skipped: list[str] = []
    path = out_dir / "runs.json"
    previous = json.loads(path.read_text()) if path.exists() and not force else []
    runs, missing, order = collect_runs(cfg, Path(runs_root), frozenset(
        (r["label"], r["seed"]) for r in previous if r["label"] != SHIPPED))
    surfaces = surface_configs(runs)
    records = build_cases(data.data_root() / cfg.cases, features, surfaces, skipped, workers)
    log.info("%d cases built, %d left out, %d runs, surface configs: %s", len(records), len(skipped), len(runs),
             ", ".join(surfaces) or "none")
    counts = {cid: mapping_counts(rec) for cid, rec in records.items()}
    with (out_dir / "cases.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        cols = list(next(iter(counts.values()))) if counts else []
        w.writerow(["case_id", *cols])
        w.writerows([cid, *(c[k] for k in cols)] for cid, c in sorted(counts.items()))
    case_ids = sorted(records)
    done = {(row["label"], row["seed"]): row for row in previous if row.get("cases") == case_ids}
    known = done.keys() | {(r.label, r.seed) for r in runs}  # kept rows scored on other cases: gone, missing
    missing += [f"{label} seed {seed}" for label, seed in order if (label, seed) not in known]
    for run in runs:
        if reusable(done.get((run.label, run.seed)), run):
            continue
        row = score_run(run, records)
        row["cases"] = case_ids
        if run.fingerprint is not None:
            row["fingerprint"] = run.fingerprint
        done[(run.label, run.seed)] = row
        path.write_text(json.dumps(list(done.values()), indent=1, default=float))  # survives a stop
        log.info("%s seed %s scored", run.label, run.seed)
    rows = [done[key] for key in order if key in done]
    path.write_text(json.dumps(rows, indent=1, default=float))
    write_unbound_tables(cfg, rows, counts, skipped, missing, out_dir, command)
    return out_dir


UNBOUND_METRICS = {"paratope": ("auprc", "auroc", "mcc"), "epitope": ("auroc", "auprc", "mcc")}


def write_unbound_tables(cfg: UnboundBenchConfig, rows: list[dict], counts: dict[str, dict], skipped: list[str],
                         missing: list[str], out_dir: Path, command: str = "") -> list[Path]:
    labels = list(dict.fromkeys(r["label"] for r in rows))
    summary = []
    for label in labels:
        sel = [r for r in rows if r["label"] == label]
        entry = {"model": label, "n_seeds": len(sel), "n_train": sel[0].get("n_train", "")}
        for task, metrics in UNBOUND_METRICS.items():
            for m in metrics:
                for state in ("bound", "unbound"):
                    v = np.array([r[f"{task}_{m}_{state}"] for r in sel], dtype=float)
                    entry[f"{task}_{m}_{state}"] = float(np.nanmean(v))
                    entry[f"{task}_{m}_{state}_std"] = float(np.nanstd(v, ddof=1)) if len(v) > 1 else float("nan")
                drop = np.array([r[f"{task}_{m}_unbound"] - r[f"{task}_{m}_bound"] for r in sel], dtype=float)
                entry[f"{task}_{m}_change"] = float(np.nanmean(drop))
        summary.append(entry)
    write_summary_csv(out_dir / "table.csv", summary)
    tot = {k: sum(c[k] for c in counts.values()) for k in next(iter(counts.values()))}

    def cell(e, task, m, state):
        std = e[f"{task}_{m}_{state}_std"]
        return f"{e[f'{task}_{m}_{state}']:.3f}" + (f" ± {std:.3f}" if np.isfinite(std) else "")

    lines = [f"# {cfg.title}", "",
             f"Produced by `{command or 'absites bench ' + cfg.name}` (configs/bench/{cfg.name}.yaml); not edited by "
             f"hand. Commit {git_commit()}; machine: {machine_description()}.", "",
             f"* Cases: {len(counts)} of `{cfg.cases}` scored"
             + (f"; {len(skipped)} left out: " + "; ".join(skipped) if skipped else "") + ".",
             "* Inputs: bound = antibody and antigen cut from the complex; unbound = the same proteins solved "
             "alone (other PDB entries, superposed on the bound ones), predicted as `absites predict "
             "--antibody ab.pdb --antigen ag.pdb` would. Labels from the bound pair (heavy atom within 4.5 Å), "
             "carried to unbound residues by per-chain global alignment; only residues aligned to an identical "
             "residue are scored, the same residues in both columns (paratope: inside the Chothia ±2 CDRs of "
             "both numberings).",
             f"* Residues scored: paratope {tot['scored_paratope']} ({tot['positives_paratope']} binding), epitope "
             f"{tot['scored_epitope']} ({tot['positives_epitope']} binding); unmapped: {tot['unmapped_unbound']} "
             f"unbound and {tot['unmapped_bound']} bound residues (per case: `cases.csv`).",
             "* Rows: the trained runs of each benchmark named (same checkpoints and validation thresholds as its "
             "table; `n train` = its training complexes) and the shipped default models. No docking case is in "
             "any of their training or validation pools (PDB ids checked in the split reports). Metrics pooled "
             "over residues; mean ± std over seeds; MCC at the run's validation threshold; Δ = unbound − bound.",
             ]
    if missing:
        lines.append("* Not scored (no trained run; `absites bench <benchmark>` trains them): " + "; ".join(missing) + ".")
    if cfg.note:
        lines += ["", cfg.note.strip()]
    for task, metrics in UNBOUND_METRICS.items():
        head = " | ".join(f"{m.upper()} bound | {m.upper()} unbound | Δ" for m in metrics)
        lines += ["", f"## {task}", "", f"| model | n train | seeds | {head} |",
                  "|---|---:|---:|" + "---:|---:|---:|" * len(metrics)]
        for e in summary:
            cells = " | ".join(f"{cell(e, task, m, 'bound')} | {cell(e, task, m, 'unbound')} | "
                               f"{e[f'{task}_{m}_change']:+.3f}" for m in metrics)
            lines.append(f"| {e['model']} | {e['n_train']} | {e['n_seeds']} | {cells} |")
    lines.append("")
    (out_dir / "table.md").write_text("\n".join(lines))
    return [out_dir / "table.md", out_dir / "table.csv"]
