"""Command-line interface: ``absites fetch | prepare | split | summary | export-ply | train | evaluate | predict |
bench | robustness``.

Thin: argument checking and printing only; the work happens in the stage modules.
Errors raised on purpose (:class:`AbsitesError`) print one line and exit with 2.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import click

from absites import __version__
from absites.errors import AbsitesError

log = logging.getLogger("absites")


def _default_manifest(dcfg) -> Path:
    """Where ``absites prepare`` writes the manifest of the data config's whole index."""
    index = dcfg.data_root() / dcfg.index
    return dcfg.cache_path() / "manifests" / f"{index.parent.name}-{index.stem}-all.csv"


def _setup_logging(verbose: int) -> None:
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


@click.group()
@click.version_option(__version__, prog_name="absites")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
def cli(verbose: int) -> None:
    """absites: antibody paratope and epitope prediction from 3D structures."""
    _setup_logging(verbose)


@cli.command()
@click.argument("pdb_ids", nargs=-1, required=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for the files [default: <project>/data/pdb].")
@click.option("--format", "fmt", type=click.Choice(["cif", "pdb"]), default="cif", show_default=True)
@click.option("--force", is_flag=True, help="Download again even when the file exists.")
def fetch(pdb_ids: tuple[str, ...], out_dir: Path | None, fmt: str, force: bool) -> None:
    """Download PDB entries by id (e.g. absites fetch 1ahw 3gjf)."""
    from absites.config import PROJECT_ROOT
    from absites.data.fetch import fetch_entries

    out_dir = out_dir or PROJECT_ROOT / "data" / "pdb"
    results = fetch_entries(list(pdb_ids), out_dir, fmt, force=force)
    for r in results:
        click.echo(f"{r.pdb_id}\t{r.status}\t{r.path or r.reason}")
    if any(r.status == "failed" for r in results):
        sys.exit(1)


@cli.command()
@click.option("--data", "data_cfg", default="default", show_default=True,
              help="Data config: a name under configs/data/ or a YAML path.")
@click.option("--features", "feature_cfg", default="default", show_default=True,
              help="Feature config: a name under configs/features/ or a YAML path.")
@click.option("--index", "index_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Index CSV (overrides the data config's index).")
@click.option("--split", default=None, help="Only rows of this split (train / val / test).")
@click.option("--ids", default=None, help="Comma-separated complex or PDB ids to keep.")
@click.option("--file", "structure_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Prepare one structure file instead of an index (needs --heavy and --antigen).")
@click.option("--heavy", default=None, help="Heavy chain id (with --file).")
@click.option("--light", default=None, help="Light chain id (with --file; omit for a single-domain antibody).")
@click.option("--antigen", default=None, help="Antigen chain ids, comma-separated (with --file).")
@click.option("--surface/--no-surface", default=False, show_default=True,
              help="Also build O-GEP surfaces (meshes, Laplace-Beltrami eigenpairs, HKS/WKS, gradients).")
@click.option("--surface-config", "surface_cfg", default="default", show_default=True,
              help="Surface config: a name under configs/surface/ or a YAML path.")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--backend", type=click.Choice(["local", "dask"]), default="local", show_default=True,
              help="local processes, or a Dask cluster (joblib's Dask backend).")
@click.option("--scheduler", default=None, help="Dask scheduler address for --backend dask (tcp://HOST:PORT).")
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), default=None)
@click.option("--manifest", "manifest_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the manifest [default: <cache>/manifests/<index>-<split>.csv].")
@click.option("--progress/--no-progress", default=True, show_default=True)
def prepare(data_cfg, feature_cfg, index_path, split, ids, structure_file, heavy, light, antigen,
            surface, surface_cfg, workers, backend, scheduler, cache_dir, manifest_path, progress) -> None:
    """Parse, number, label and featurise complexes into cached residue graphs (and surfaces)."""
    from absites.config import load_data_config, load_feature_config, load_surface_config
    from absites.data.index import ComplexEntry, read_index
    from absites.data.prepare import prepare as run_prepare
    from absites.structure.complex import ChainRoles

    dcfg = load_data_config(data_cfg, cache_dir=str(cache_dir) if cache_dir else None)
    fcfg = load_feature_config(feature_cfg)
    scfg = load_surface_config(surface_cfg) if surface else None
    if structure_file is not None:
        if not heavy or not antigen:
            raise click.UsageError("--file needs --heavy and --antigen")
        from absites.structure.parse import structure_stem

        roles = ChainRoles(heavy, light or None, tuple(a.strip() for a in antigen.split(",") if a.strip()))
        entries = [ComplexEntry(structure_stem(structure_file), structure_file.resolve(), roles)]
        label = entries[0].complex_id
        bad_rows: list[tuple[str, str]] = []
    else:
        index = index_path or dcfg.data_root() / dcfg.index
        bad_rows = []
        entries = read_index(index, split=split, primary_only=dcfg.primary_only,
                             ids=[i.strip() for i in ids.split(",")] if ids else None, skipped=bad_rows)
        if not entries and not bad_rows:
            raise click.UsageError(f"no entries selected from {index}")
        label = f"{Path(index).parent.name}-{Path(index).stem}-{split or 'all'}"
    cache_root = dcfg.cache_path()
    manifest_path = manifest_path or cache_root / "manifests" / f"{label}.csv"
    from absites.data.prepare import PrepareResult, write_manifest

    results = run_prepare(entries, fcfg, cache_root, workers=workers, manifest_path=None,
                          progress=progress, surface_cfg=scfg, backend=backend, scheduler=scheduler)
    results += [PrepareResult(cid, "skipped", reason=why) for cid, why in bad_rows]  # bad index rows
    write_manifest(results, manifest_path)
    counts: dict[str, int] = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
        if r.surface_status:
            counts[f"surface_{r.surface_status}"] = counts.get(f"surface_{r.surface_status}", 0) + 1
    for r in results:
        if not r.ok or r.surface_status in ("skipped", "failed"):
            click.echo(f"{r.status if not r.ok else 'surface ' + r.surface_status}: {r.complex_id}: {r.reason}",
                       err=True)
    click.echo(json.dumps({"entries": len(results), **counts, "manifest": str(manifest_path),
                           "cache": str(cache_root)}))
    if not any(r.ok for r in results):
        click.echo(f"error: no complex could be prepared; reasons in {manifest_path}", err=True)
        sys.exit(2)


@cli.command()
@click.option("--pool", "pools", multiple=True, required=True,
              help="Index to train on, optionally with a selection: PATH or PATH::column=value|value;column=value "
                   "(repeat to combine indexes).")
@click.option("--held-out", "held_out", multiple=True, required=True,
              help="Complexes to keep out of the pool (test, validation), same syntax (repeatable).")
@click.option("--exclude-pdb-ids", "exclude", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Any CSV with a pdb_id column (e.g. docking_unbound/index.csv): its entries leave the pool.")
@click.option("--regime", type=click.Choice(["id", "antigen", "both"]), default="both", show_default=True)
@click.option("--antigen-identity", type=click.FloatRange(0.0, 1.0, min_open=True), default=0.7, show_default=True,
              help="Antigen-disjoint: remove pool entries with an antigen chain this identical to a held-out one.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for pool-<regime>.csv (an index prepare/train read), removed-<regime>.csv, report.json.")
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), default=None)
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True)
def split(pools, held_out, exclude, regime, antigen_identity, out_dir, cache_dir, workers) -> None:
    """Build leakage-free training pools: several indexes combined, held-out complexes kept out by PDB id and
    identical antibody (id regime) and by antigen sequence identity (antigen regime)."""
    import csv as csv_module

    from absites.config import load_data_config
    from absites.data.leakage import (
        Identity,
        Removal,
        antigen_clusters,
        filter_pool,
        removal_rows,
        select_entries,
        sequences_of,
        write_pool_index,
    )

    cache = cache_dir or load_data_config("default").cache_path()
    bad_rows: list[tuple[str, str]] = []
    pool_entries, source_of = [], {}
    for spec in pools:
        for e in select_entries(spec, bad_rows):
            if e.complex_id in source_of:
                raise click.UsageError(f"complex id {e.complex_id} is in two pool indexes ({source_of[e.complex_id]}, "
                                       f"{spec})")
            source_of[e.complex_id] = spec
            pool_entries.append(e)
    held_entries = [e for spec in held_out for e in select_entries(spec, bad_rows)]
    if not pool_entries or not held_entries:
        raise click.UsageError("the pool and the held-out set must both select at least one complex")
    excluded_pdbs: set[str] = set()
    for path in exclude:
        with path.open(newline="") as fh:
            excluded_pdbs |= {(r.get("pdb_id") or "").strip().lower() for r in csv_module.DictReader(fh)} - {""}
    pool_seqs, pool_failed = sequences_of(pool_entries, cache, workers)
    held_seqs, held_failed = sequences_of(held_entries, cache, workers)
    if held_failed:
        raise AbsitesError(f"held-out complexes without sequences: {held_failed[:3]}: cannot judge leakage")
    identity = Identity()
    regimes = ["id", "antigen"] if regime == "both" else [regime]
    out_dir.mkdir(parents=True, exist_ok=True)
    report = {"pool": list(pools), "held_out": list(held_out), "exclude_pdb_ids": [str(p) for p in exclude],
              "antigen_identity": antigen_identity, "n_pool": len(pool_entries), "n_held_out": len(held_seqs),
              "bad_index_rows": bad_rows, "no_sequences": pool_failed, "regimes": {}}
    for reg in regimes:
        kept, removed = filter_pool(pool_seqs, held_seqs, reg, antigen_identity, identity)
        removed += [Removal(cid, "excluded_pdb") for cid in kept if pool_seqs[cid].pdb_id.lower() in excluded_pdbs]
        kept = [cid for cid in kept if pool_seqs[cid].pdb_id.lower() not in excluded_pdbs]
        removed += [Removal(cid, "no_sequences") for cid, _ in pool_failed]
        index_path = write_pool_index(pool_entries, kept, out_dir / f"pool-{reg}.csv", source_of)
        with (out_dir / f"removed-{reg}.csv").open("w", newline="") as fh:
            w = csv_module.DictWriter(fh, fieldnames=["complex_id", "reason", "held_out", "identity"])
            w.writeheader()
            w.writerows(removal_rows(removed))
        counts: dict[str, int] = {}
        for r in removed:
            counts[r.reason] = counts.get(r.reason, 0) + 1
        clusters = antigen_clusters({c: pool_seqs[c] for c in kept}, antigen_identity, identity)
        report["regimes"][reg] = {"kept": len(kept), "removed": counts, "index": str(index_path),
                                  "antigen_clusters_in_pool": len(set(clusters.values()))}
        click.echo(f"{reg}-disjoint: kept {len(kept)} of {len(pool_entries)} ({counts or 'none removed'}); "
                   f"{len(set(clusters.values()))} antigen clusters at {antigen_identity:.0%}; index {index_path}")
    (out_dir / "report.json").write_text(json.dumps(report, indent=1))


@cli.command()
@click.option("--data", "data_cfg", default="default", show_default=True, help="Data config name or YAML path.")
@click.option("--manifest", "manifest_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Manifest of a prepare run [default: the data config's index, all splits].")
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), default=None)
def summary(data_cfg, manifest_path, cache_dir) -> None:
    """Print a table of prepared complexes: residues, CDRs, paratope / epitope sizes, edges."""
    from absites.config import load_data_config
    from absites.data.records import load_graphs, summarize
    from absites.data.prepare import read_manifest

    dcfg = load_data_config(data_cfg, cache_dir=str(cache_dir) if cache_dir else None)
    manifest_path = manifest_path or _default_manifest(dcfg)
    if not manifest_path.exists():
        raise click.UsageError(f"no manifest at {manifest_path}: run absites prepare first")
    rows = summarize(load_graphs(manifest_path, dcfg.cache_path()))
    if not rows:
        raise click.UsageError(f"{manifest_path} lists no prepared complex")
    columns = list(rows[0])
    click.echo("  ".join(f"{c:>15}" for c in columns))
    for row in rows:
        click.echo("  ".join(f"{row[c]!s:>15}" for c in columns))
    skipped = [r for r in read_manifest(manifest_path) if r["status"] in ("skipped", "failed")]
    para = sum(r["paratope_in_cdr"] for r in rows) / max(1, sum(r["paratope"] for r in rows))
    click.echo(f"\n{len(rows)} complexes prepared, {len(skipped)} skipped; "
               f"{para:.1%} of paratope residues lie in CDRs (Chothia +-2); manifest: {manifest_path}")
    for r in skipped:
        click.echo(f"skipped {r['complex_id']}: {r['reason']}")


@cli.command("export-ply")
@click.option("--data", "data_cfg", default="default", show_default=True, help="Data config name or YAML path.")
@click.option("--manifest", "manifest_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Manifest of a prepare --surface run [default: the data config's index, all splits].")
@click.option("--ids", default=None, help="Comma-separated complex ids [default: all in the manifest].")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), default=None)
def export_ply(data_cfg, manifest_path, ids, out_dir, cache_dir) -> None:
    """Write prepared surfaces as PLY (vertex properties: label, residue, mean_curvature, hks_0)."""
    from absites.config import load_data_config
    from absites.data.records import load_surfaces
    from absites.surface.export import write_ply

    dcfg = load_data_config(data_cfg, cache_dir=str(cache_dir) if cache_dir else None)
    manifest_path = manifest_path or _default_manifest(dcfg)
    if not manifest_path.exists():
        raise click.UsageError(f"no manifest at {manifest_path}: run absites prepare --surface first")
    surfaces = load_surfaces(manifest_path, dcfg.cache_path())
    wanted = [i.strip() for i in ids.split(",")] if ids else sorted(surfaces)
    missing = [i for i in wanted if i not in surfaces]
    if missing:
        raise click.UsageError(f"no surface record for {', '.join(missing)} in {manifest_path}")
    for cid in wanted:
        for surf in surfaces[cid]:
            click.echo(write_ply(surf, out_dir / f"{cid}_{surf.protein}.ply"))


@cli.command()
@click.option("--model", "model_cfg", required=True, help="Model config: a name under configs/model/ or a YAML path.")
@click.option("--training", "training_cfg", default="default", show_default=True,
              help="Training config: a name under configs/training/ or a YAML path.")
@click.option("--data", "data_cfg", default="default", show_default=True, help="Data config name or YAML path.")
@click.option("--features", "feature_cfg", default="default", show_default=True)
@click.option("--surface-config", "surface_cfg", default="fast", show_default=True,
              help="Surface config of surface models: a name under configs/surface/ or a YAML path.")
@click.option("--seed", type=int, default=None, help="Override the training seed.")
@click.option("--epochs", type=click.IntRange(min=1), default=None, help="Override the number of epochs.")
@click.option("--device", default=None, help="Override the device (auto, cpu, cuda).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Run directory [default: runs/<model>-seed<seed>].")
@click.option("--resume", is_flag=True, help="Continue from <out>/last.pt.")
@click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True)
def train(model_cfg, training_cfg, data_cfg, feature_cfg, surface_cfg, seed, epochs, device, out_dir, resume,
          workers) -> None:
    """Train a model on the train split with early stopping on val; writes a run directory."""
    from absites.config import (PROJECT_ROOT, load_data_config, load_feature_config, load_model_config,
                                load_surface_config, load_training_config)
    from absites.train.run import train_run

    model = load_model_config(model_cfg)
    training = load_training_config(training_cfg, seed=seed, epochs=epochs, device=device)
    out_dir = out_dir or PROJECT_ROOT / "runs" / f"{model.name}-seed{training.seed}"
    result = train_run(model, training, load_data_config(data_cfg), load_feature_config(feature_cfg),
                       load_surface_config(surface_cfg), out_dir, resume=resume, workers=workers)
    summary = {task: {k: round(v, 4) for k, v in m.items() if k in ("auroc", "auprc", "mcc", "mcc_at_val", "f1")}
               for task, m in result.val_metrics.items()}
    click.echo(json.dumps({"run": str(result.out_dir), "best_epoch": result.best_epoch,
                           "seconds_per_epoch": round(result.seconds_per_epoch, 2), "val": summary}))


@cli.command()
@click.option("--run", "runs", type=click.Path(exists=True, file_okay=False, path_type=Path), multiple=True,
              required=True, help="A trained run directory to combine (give two or more).")
@click.option("--data", "data_cfg", default="default", show_default=True, help="Data config name or YAML path.")
@click.option("--val-split", default="val", show_default=True, help="Split the weights and thresholds are chosen on.")
@click.option("--step", type=click.FloatRange(0.05, 1.0), default=0.25, show_default=True,
              help="Weight grid step on the simplex.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Run directory of the ensemble (predict with --paratope-model / --epitope-model OUT).")
@click.option("--calibrate", is_flag=True,
              help="Calibrate the combined epitope probabilities to the antigen's size on validation.")
@click.option("--focus", is_flag=True,
              help="Focus the combined epitope scores on the antigen's best-scoring patch (chosen on validation).")
@click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True)
def ensemble(runs, data_cfg, val_split, step, out_dir, calibrate, focus, workers) -> None:
    """Combine trained runs: per-task weights chosen on validation (paratope AUPRC, epitope AUROC)."""
    from absites.config import load_data_config
    from absites.train.run import ENSEMBLE_FILE, train_ensemble

    if len(runs) < 2:
        raise click.UsageError("an ensemble needs two or more --run directories")
    result = train_ensemble(list(runs), load_data_config(data_cfg), out_dir, val_split=val_split, step=step,
                            workers=workers, calibrate=calibrate, focus=focus)
    weights = json.loads((out_dir / ENSEMBLE_FILE).read_text())["weights"]
    summary = {task: {k: round(v, 4) for k, v in m.items() if k in ("auroc", "auprc", "mcc_at_val")}
               for task, m in result.val_metrics.items()}
    click.echo(json.dumps({"run": str(result.out_dir), "weights": weights, "val": summary}))


@cli.command()
@click.option("--checkpoint", "run_dir", type=click.Path(exists=True, path_type=Path), required=True,
              help="A run directory (or its best.pt / baseline.joblib).")
@click.option("--split", default="test", show_default=True)
@click.option("--split-column", default="split", show_default=True,
              help="Index column holding the split (split, split_pecan_paratope, ...).")
@click.option("--data", "data_cfg", default="default", show_default=True)
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write metrics (and per-residue probabilities) as JSON here.")
@click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True)
def evaluate(run_dir, split, split_column, data_cfg, out_path, workers) -> None:
    """Residue-level metrics of a trained run on a split (pooled and per-complex means)."""
    from absites.config import load_data_config
    from absites.train.run import evaluate_run

    result = evaluate_run(run_dir, split, load_data_config(data_cfg), workers, split_column)
    if out_path:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_text(json.dumps(result, indent=1, default=str))
    click.echo(f"{split}: {result['n_complexes']} complexes, {len(result['skipped'])} skipped")
    header = ("auroc", "auprc", "mcc", "mcc_at_val", "precision", "recall", "f1", "auroc_mean", "auprc_mean")
    click.echo(f"{'task':<16}" + "".join(f"{h:>12}" for h in header))
    for task, m in result["metrics"].items():
        click.echo(f"{task:<16}" + "".join(f"{m.get(h, float('nan')):>12.3f}" for h in header))


@cli.command()
@click.argument("benchmark")
@click.option("--jobs", type=click.IntRange(min=1), default=2, show_default=True,
              help="(model, seed) jobs trained at once; CPU threads are shared out between them.")
@click.option("--models", default=None, help="Only these rows (comma-separated labels) [default: all].")
@click.option("--seeds", default=None, help="Only these seeds (comma-separated) [default: the config's].")
@click.option("--out", "out_root", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Results folder [default: <project>/results]; tables go to <out>/<benchmark>/.")
@click.option("--runs", "runs_root", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where run directories (checkpoints) go [default: <project>/runs/bench].")
@click.option("--force", is_flag=True, help="Re-run jobs that already have a result.")
@click.option("--tables-only", is_flag=True, help="Only rewrite the tables and figures from the job records.")
def bench(benchmark, jobs, models, seeds, out_root, runs_root, force, tables_only) -> None:
    """Run a benchmark (configs/bench/BENCHMARK.yaml: gep, pecan, docking): every model x seed, then
    results/BENCHMARK/table.md, table.csv, roc.png, pr.png. Finished jobs are kept; re-running resumes.

    docking-unbound scores the trained runs of the benchmarks it names on bound and unbound inputs;
    data-effect puts the records of benchmarks trained on different pools side by side."""
    from absites.config import PROJECT_ROOT, load_yaml
    from absites.evaluate.benchmark import bench_config_path, load_benchmark_config, run_benchmark, write_tables
    from absites.evaluate.bench_compare import compare_config, is_compare_config, write_compare
    from absites.evaluate.unbound import is_unbound_config, run_unbound, unbound_config

    out_root = out_root or PROJECT_ROOT / "results"
    path = bench_config_path(benchmark)
    raw = load_yaml(path)
    if is_compare_config(raw):  # reads other benchmarks' records side by side; trains nothing
        for p in write_compare(compare_config(path.stem, raw, path), out_root, f"absites bench {benchmark}"):
            click.echo(str(p))
        return
    if is_unbound_config(raw):  # scores the trained runs of other benchmarks, bound vs unbound
        argv = sys.argv[sys.argv.index("bench"):] if "bench" in sys.argv else ["bench", benchmark]
        out = run_unbound(unbound_config(path.stem, raw, path), out_root,
                          runs_root or PROJECT_ROOT / "runs" / "bench", jobs, "absites " + " ".join(argv), force)
        for p in (out / "table.md", out / "table.csv", out / "cases.csv"):
            click.echo(str(p))
        return
    cfg = load_benchmark_config(benchmark)
    if tables_only:
        paths = write_tables(cfg, out_root / cfg.name)
    else:
        labels = [m.strip() for m in models.split(",")] if models else None
        seed_list = [int(s) for s in seeds.split(",")] if seeds else None
        argv = sys.argv[sys.argv.index("bench"):] if "bench" in sys.argv else ["bench", benchmark]
        command = "absites " + " ".join(argv)
        out = run_benchmark(cfg, out_root, runs_root or PROJECT_ROOT / "runs" / "bench", jobs, labels, seed_list,
                            force, command)
        paths = sorted(out.glob("table.*")) + sorted(out.glob("*.png"))
    for path in paths:
        click.echo(str(path))


@cli.command()
@click.argument("benchmark")
@click.option("--sigmas", default="0.5,1.0", show_default=True, help="Noise standard deviations in Å.")
@click.option("--models", default=None, help="Only these rows (comma-separated labels) [default: all finished].")
@click.option("--out", "out_root", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Results folder of the benchmark [default: <project>/results].")
@click.option("--runs", "runs_root", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Run directories of the benchmark [default: <project>/runs/bench].")
@click.option("--force", is_flag=True, help="Evaluate every run again instead of keeping the rows in runs.json.")
def robustness(benchmark, sigmas, models, out_root, runs_root, force) -> None:
    """Metric drops of every trained BENCHMARK run on test structures with Gaussian coordinate noise:
    results/robustness-BENCHMARK/table.md and table.csv."""
    from absites.config import PROJECT_ROOT
    from absites.evaluate.benchmark import load_benchmark_config
    from absites.evaluate.robustness import run_robustness

    cfg = load_benchmark_config(benchmark)
    argv = sys.argv[sys.argv.index("robustness"):] if "robustness" in sys.argv else ["robustness", benchmark]
    out = run_robustness(cfg, tuple(float(x) for x in sigmas.split(",")), out_root or PROJECT_ROOT / "results",
                         runs_root or PROJECT_ROOT / "runs" / "bench",
                         [m.strip() for m in models.split(",")] if models else None, "absites " + " ".join(argv), force)
    click.echo(str(out / "table.md"))


def _expand_inputs(inputs: tuple[Path, ...], list_file: Path | None) -> list[Path]:
    """Input files: each file given, the regular structure files of each folder given (pipes, sockets and
    sub-folders are left out), and the lines of ``--list`` (blank and ``#`` lines skipped; relative paths
    are taken from the list file's folder)."""
    from absites.structure.parse import STRUCTURE_SUFFIXES

    suffixes = STRUCTURE_SUFFIXES + tuple(f"{s}.gz" for s in STRUCTURE_SUFFIXES)
    paths: list[Path] = []
    for p in inputs:
        if p.is_dir():
            paths += sorted(q for q in p.iterdir() if q.name.lower().endswith(suffixes) and q.is_file())
        else:
            paths.append(p)
    if list_file is not None:
        for line in list_file.read_text().splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                q = Path(line).expanduser()
                paths.append(q if q.is_absolute() else list_file.parent / q)
    return paths


@cli.command()
@click.argument("inputs", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--antibody", "antibody_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Antibody structure file: with --antigen FILE (separately solved or modelled), "
                                 "or alone (paratope from the antibody alone).")
@click.option("--antigen", default=None,
              help="An antigen structure file (with --antibody FILE, or alone: epitope propensity from the antigen "
                   "alone); with a complex input: antigen chain ids, comma-separated.")
@click.option("--heavy", default=None, help="Heavy chain id (default: found by numbering).")
@click.option("--light", default=None, help="Light chain id (omit for a single-domain antibody).")
@click.option("--list", "list_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="A text file with one structure path per line (batch mode).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("predictions"),
              show_default=True)
@click.option("--paratope-model", type=click.Path(exists=True, path_type=Path), default=None,
              help="Run directory of the paratope model [default: the shipped model].")
@click.option("--epitope-model", type=click.Path(exists=True, path_type=Path), default=None,
              help="Run directory of the epitope model [default: the shipped model].")
@click.option("--fast", is_flag=True,
              help="Shipped partner-free gradient boosting only (no torch, no model surfaces): ~2x quicker to "
                   "start, less accurate than the default ensembles (README, 'Predicting binding sites').")
@click.option("--surfaces/--no-surfaces", default=True, show_default=True,
              help="Write PLY, PNG and HTML views (needs the molecular surfaces, ~3 s per complex).")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Batch mode: predict this many files at once, one process each (each loads the models: "
                   "worth it from a few files per process).")
@click.option("--progress/--no-progress", default=True, show_default=True)
def predict(inputs, antibody_file, antigen, heavy, light, list_file, out_dir, paratope_model, epitope_model,
            fast, surfaces, workers, progress) -> None:
    """Predict paratope and epitope residues of antibody–antigen structures (PDB / mmCIF, .gz allowed).

    \b
    absites predict complex.cif.gz                       # chain roles found automatically
    absites predict complex.pdb --heavy H --light L --antigen A
    absites predict --antibody ab.pdb --antigen ag.pdb   # separately solved / modelled structures
    absites predict --antibody ab.pdb                    # one protein alone: paratope, no antigen needed
    absites predict --antigen ag.pdb                     # one protein alone: antibody-agnostic epitope propensity
    absites predict structures/ --out preds/             # batch over a folder (or --list FILE)
    absites predict structures/ --workers 4              # the batch on 4 processes
    """
    # every usage check before the models load (seconds) and before any computing
    if fast and (paratope_model or epitope_model):
        raise click.UsageError("--fast picks the shipped partner-free models; it does not combine with "
                               "--paratope-model / --epitope-model")
    alone = None  # "antibody" | "antigen": one protein without its partner
    if antibody_file is not None:
        if inputs or list_file:
            raise click.UsageError("give either --antibody/--antigen files or structure inputs, not both")
        if antigen and not Path(antigen).is_file():
            raise click.UsageError(f"--antigen {antigen}: with --antibody FILE, --antigen takes a structure file")
        alone = None if antigen else "antibody"
        paths, chains = [], None
    elif antigen and not inputs and not list_file:
        if not Path(antigen).is_file():
            raise click.UsageError(f"--antigen {antigen}: not a file (chain ids need a complex input; an antigen "
                                   "alone needs its structure file)")
        if heavy or light:
            raise click.UsageError("--heavy/--light do not apply to an antigen alone")
        alone, paths, chains = "antigen", [], None
    else:
        paths = _expand_inputs(inputs, list_file)
        if not paths:
            raise click.UsageError("no structure given (a file, a folder, --list FILE, or --antibody/--antigen)")
        chains = tuple(c.strip() for c in antigen.split(",") if c.strip()) if antigen else None
        if len(paths) > 1 and (heavy or light or chains):
            raise click.UsageError("--heavy/--light/--antigen chain ids apply to a single input file")
    in_processes = workers > 1 and not alone and antibody_file is None and len(paths) > 1
    if not fast and not in_processes:  # a second process starts loading the network members now (train/worker.py)
        from absites.config import DEFAULT_MODEL_DIR
        from absites.train.worker import start_for

        start_for([Path(paratope_model or DEFAULT_MODEL_DIR / "paratope"),
                   Path(epitope_model or DEFAULT_MODEL_DIR / "epitope")])
    from absites.predict.run import OutputLock, load_default_models, predict_batch, prepare_out_dir

    out = prepare_out_dir(out_dir)
    with OutputLock(out):
        if in_processes:  # each batch process loads the models itself
            results, failed = predict_batch(paths, out, write_surfaces=surfaces, progress=progress, workers=workers,
                                            model_dirs=(paratope_model, epitope_model, fast))
        else:
            results, failed = _predict_here(paths, out, antibody_file, antigen, alone, heavy, light, chains,
                                            load_default_models(paratope_model, epitope_model, fast=fast), surfaces,
                                            progress)
    for r in results:
        if r.mode != "complex":
            chains = "+".join(r.roles.antibody) if r.mode == "antibody alone" else ",".join(r.roles.antigen)
            click.echo(f"{r.name}: {r.mode} ({chains}) {r.seconds:.1f}s  (no partner: "
                       + ("paratope" if r.mode == "antibody alone" else "antibody-agnostic epitope propensity") + ")")
        else:
            note = "" if r.in_contact else "  (antibody and antigen not in contact: unbound prediction)"
            click.echo(f"{r.name}: H={r.roles.heavy} L={r.roles.light or '-'} Ag={','.join(r.roles.antigen)} "
                       f"{r.seconds:.1f}s{note}")
        for note in r.notes:
            click.echo(f"  note: {note}")
        for kind, path in r.outputs.items():
            click.echo(f"  {kind:<13}{path}")
    for path, why in failed:
        click.echo(f"skipped {path}: {why}", err=True)
    if failed:
        click.echo(f"{len(failed)} of {len(paths)} inputs skipped; see {out_dir / 'manifest.csv'}", err=True)
        if not results:
            click.echo("error: no input could be predicted", err=True)
            sys.exit(2)
    global _LEAVE_AT_ONCE
    _LEAVE_AT_ONCE = True


def _predict_here(paths, out, antibody_file, antigen, alone, heavy, light, chains, models, surfaces, progress):
    """``predict``'s work in this process: (predictions, failed inputs)."""
    from absites.predict.run import predict_batch, predict_file, predict_one_protein

    if alone:
        return [predict_one_protein(antibody_file if alone == "antibody" else Path(antigen), out, models, alone,
                                    heavy=heavy, light=light, write_surfaces=surfaces)], []
    if antibody_file is not None:
        return predict_file(antibody_file, out, models, heavy=heavy, light=light, antigen_file=Path(antigen),
                            write_surfaces=surfaces), []
    if len(paths) == 1:
        return predict_file(paths[0], out, models, heavy=heavy, light=light, antigen=chains,
                            write_surfaces=surfaces), []
    return predict_batch(paths, out, models, write_surfaces=surfaces, progress=progress)


_LEAVE_AT_ONCE = False  # set by a command whose work is all written when it returns (predict)


def _leave_now() -> None:
    """End the process without the interpreter's teardown of every imported module: after a prediction
    (matplotlib, SciPy, trimesh imported) that teardown takes ~0.5 s of a ~5 s cold run (bench/RESULTS.md,
    issue 14). The exit handlers still run — log flushing, the network worker's stop, temporary files —
    and the standard streams are flushed. Returns (a normal exit follows) while a thread still works."""
    import atexit
    import os
    import threading

    if any(t.is_alive() and not t.daemon for t in threading.enumerate() if t is not threading.main_thread()):
        return
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (e.g. `| head`): nothing more can reach it
            pass
    os._exit(0)


def main() -> None:
    """Console entry point: run the CLI, turning absites errors into one-line messages."""
    try:
        cli.main(standalone_mode=False)
        if _LEAVE_AT_ONCE:
            _leave_now()
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except AbsitesError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except SystemExit:
        raise


if __name__ == "__main__":
    main()
