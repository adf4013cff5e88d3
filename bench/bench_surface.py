"""O-GEP surface routes side by side, one core: seconds per complex (both proteins), mesh quality.

Usage: python bench/bench_surface.py [--routes reference,default,coarse,fast] [--limit N]

Over the 30-complex sample, in one run:

* ``reference`` — the reference pipeline's route: PyMOL surface at surface_quality 0
  → largest connected component → quadric decimation to 2,000 vertices
  (fast-simplification) → cotan Laplacian → 30 eigenpairs → HKS. Needs
  pymol-open-source (``pip install -e ".[pymol]"``; ``make bench-surface`` does it).
* ``default`` / ``coarse`` / ``fast`` — absites' SES route with that surface
  config (``configs/surface/<name>.yaml``): mesh, Laplacian, eigenpairs, HKS, WKS and
  gradient operators, everything a surface record holds.

Per route: median seconds per complex (mesh, spectral, total), median vertices per
protein, the share of meshes that are watertight and whose eigen-solve passes (one
zero mode), and the median surface area relative to the ``default`` route's mesh of
the same protein. Also prints full preprocessing per complex with the ``fast``
surfaces (parse, numbering, labels, SASA, graph, surfaces: ``prepare``'s work).
"""

from __future__ import annotations

import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

import argparse  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import trimesh  # noqa: E402

from absites.config import FeatureConfig, load_surface_config, resolve_data_root  # noqa: E402
from absites.data.index import read_index  # noqa: E402
from absites.errors import AbsitesError  # noqa: E402
from absites.graph import graph_from_complex  # noqa: E402
from absites.structure.complex import load_complex  # noqa: E402
from absites.structure.write import write_pdb  # noqa: E402
from absites.surface.build import complex_surfaces  # noqa: E402
from absites.surface.mesh import molecular_surface  # noqa: E402
from absites.surface.spectral import eigenpairs, hks, laplacian_and_mass, spectral_operators, wks  # noqa: E402

REFERENCE_VERTICES = 2000
REFERENCE_EIGS = 30


def pymol_mesh(pdb_path: Path, workdir: Path) -> trimesh.Trimesh:
    from pymol import cmd

    cmd.reinitialize()
    cmd.load(str(pdb_path), "m")
    cmd.remove("hydro")
    cmd.set("surface_quality", 0)
    cmd.hide("everything")
    cmd.show("surface", "m")
    obj = workdir / "surface.obj"
    cmd.save(str(obj))
    return trimesh.load(obj, process=True, force="mesh")


def reference_route(pdb_path: Path, workdir: Path) -> tuple[trimesh.Trimesh, float, float, bool]:
    """(mesh, mesh seconds, spectral seconds, eigen-solve passed) of the reference pipeline's route."""
    import fast_simplification

    t0 = time.perf_counter()
    mesh = pymol_mesh(pdb_path, workdir)
    parts = mesh.split(only_watertight=False)
    mesh = max(parts, key=lambda m: len(m.faces)) if len(parts) else mesh
    if len(mesh.vertices) > REFERENCE_VERTICES:
        pts, faces = fast_simplification.simplify(np.asarray(mesh.vertices, dtype=np.float32),
                                                  np.asarray(mesh.faces),
                                                  target_reduction=1 - REFERENCE_VERTICES / len(mesh.vertices))
        mesh = trimesh.Trimesh(pts, faces, process=True)
    t1 = time.perf_counter()
    try:
        L, mass = laplacian_and_mass(np.asarray(mesh.vertices), np.asarray(mesh.faces))
        evals, evecs = eigenpairs(L, mass, REFERENCE_EIGS)
        hks(evals, evecs, 16)
        ok = True
    except AbsitesError:
        ok = False
    return mesh, t1 - t0, time.perf_counter() - t1, ok


def ses_route(coords, elements, residues, cfg) -> tuple[trimesh.Trimesh, float, float, bool]:
    t0 = time.perf_counter()
    mesh = molecular_surface(coords, elements, residues, cfg.grid_angstrom, cfg.probe_angstrom,
                             cfg.target_vertices, cfg.marching_step)
    t1 = time.perf_counter()
    try:
        ops = spectral_operators(mesh.vertices, mesh.faces, mesh.normals, cfg.k_eig)
        hks(ops.evals, ops.evecs, cfg.hks_scales)
        wks(ops.evals, ops.evecs, cfg.wks_energies)
        ok = True
    except AbsitesError:
        ok = False
    return mesh.trimesh(), t1 - t0, time.perf_counter() - t1, ok


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--routes", default="reference,default,coarse,fast")
    ap.add_argument("--limit", type=int, default=None)
    args = ap.parse_args()
    routes = args.routes.split(",")
    if "reference" in routes:
        try:
            import pymol  # noqa: F401
        except ImportError:
            print("PyMOL not installed (pip install -e '.[pymol]'): reference route left out")
            routes.remove("reference")
    configs = {r: load_surface_config(r) for r in routes if r != "reference"}
    entries = read_index(resolve_data_root() / "sample" / "index.csv")[: args.limit]
    stats = {r: {"mesh": [], "spectral": [], "total": [], "vertices": [], "area": [], "watertight": [], "ok": []}
             for r in routes}
    prep = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for e in entries:
            c = load_complex(e.path, e.roles, e.complex_id)
            s = c.structure
            per = {r: [0.0, 0.0] for r in routes}
            areas = {}
            for mask in (c.is_antibody, c.is_antigen):
                sel = mask[s.atom_residue]
                pdb = write_pdb(s, tmp / "protein.pdb", residue_mask=mask) if "reference" in routes else None
                for r in routes:
                    if r == "reference":
                        mesh, t_mesh, t_spec, ok = reference_route(pdb, tmp)
                    else:
                        mesh, t_mesh, t_spec, ok = ses_route(s.atom_coords[sel], s.atom_elements[sel],
                                                             s.atom_residue[sel], configs[r])
                    per[r][0] += t_mesh
                    per[r][1] += t_spec
                    areas[r] = mesh.area
                    st = stats[r]
                    st["vertices"].append(len(mesh.vertices))
                    st["watertight"].append(bool(mesh.is_watertight))
                    st["ok"].append(ok)
                for r in routes:
                    if "default" in areas:
                        stats[r]["area"].append(areas[r] / areas["default"])
            for r in routes:
                stats[r]["mesh"].append(per[r][0])
                stats[r]["spectral"].append(per[r][1])
                stats[r]["total"].append(sum(per[r]))
            if "fast" in configs:  # everything prepare does for one complex, with the fast surfaces
                t0 = time.perf_counter()
                cc = load_complex(e.path, e.roles, e.complex_id)
                g = graph_from_complex(cc, FeatureConfig())
                complex_surfaces(cc, g, configs["fast"], 4.5)
                prep.append(time.perf_counter() - t0)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    med = lambda v: float(np.median(v)) if len(v) else float("nan")  # noqa: E731
    print(f"# bench_surface: {len(entries)} sample complexes (antibody + antigen each), 1 core, commit "
          f"{commit or '?'}, {platform.machine()}, python {platform.python_version()}")
    print("| route | median s / complex | mesh s | spectral s | vertices / protein | watertight | eigen-solve ok "
          "| area / default | speed-up vs reference |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    ref = med(stats["reference"]["total"]) if "reference" in stats else float("nan")
    for r in routes:
        st = stats[r]
        what = ("PyMOL q0 → largest component → decimate 2000 → 30 eigenpairs → HKS" if r == "reference"
                else f"absites {r} ({', '.join(f'{k}={v}' for k, v in configs[r].as_dict().items())})")
        print(f"| {what} | {med(st['total']):.3f} | {med(st['mesh']):.3f} | {med(st['spectral']):.3f} | "
              f"{med(st['vertices']):.0f} | {np.mean(st['watertight']):.0%} | {np.mean(st['ok']):.0%} | "
              f"{med(st['area']):.3f} | {ref / med(st['total']):.1f}× |")
    if prep:
        print(f"\nFull preprocessing with fast surfaces (parse, numbering, labels, SASA, graph, both surfaces with "
              f"eigenpairs, HKS/WKS, gradients), one core: median {med(prep):.3f} s per complex "
              f"(p90 {np.percentile(prep, 90):.3f} s)")


if __name__ == "__main__":
    main()
