"""Seconds per complex for O-GEP surfaces + eigenpairs + descriptors (both proteins), one core.

Usage: python bench/bench_surface.py [--surface-config default] [--limit N] [--no-pymol]

Over the 30-complex sample. In the same run, when pymol-open-source is installed
(pip install -e ".[pymol]"), the PyMOL route of the reference pipeline (PyMOL
surface at surface_quality 0 -> OBJ -> the same Laplacian / eigenpairs / HKS /
WKS) is timed on the same proteins, and mesh quality is compared: watertight
share, share whose eigen-solve passes (one zero mode), area agreement.
Goal (issue 3): <= 3 s median per complex at the default resolution.
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

from absites.config import load_surface_config, resolve_data_root  # noqa: E402
from absites.data.index import read_index  # noqa: E402
from absites.errors import AbsitesError  # noqa: E402
from absites.structure.complex import load_complex  # noqa: E402
from absites.structure.write import write_pdb  # noqa: E402
from absites.surface.mesh import molecular_surface  # noqa: E402
from absites.surface.spectral import hks, spectral_operators, wks  # noqa: E402


def spectral_and_descriptors(vertices, faces, normals, cfg):
    ops = spectral_operators(vertices, faces, normals, cfg.k_eig)
    hks(ops.evals, ops.evecs, cfg.hks_scales)
    wks(ops.evals, ops.evecs, cfg.wks_energies)


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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--surface-config", default="default")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--no-pymol", action="store_true")
    args = ap.parse_args()
    cfg = load_surface_config(args.surface_config)
    try:
        if args.no_pymol:
            raise ImportError
        import pymol  # noqa: F401
        have_pymol = True
    except ImportError:
        have_pymol = False
    entries = read_index(resolve_data_root() / "sample" / "index.csv")[: args.limit]
    ours = {"mesh": [], "spectral": [], "total": [], "vertices": [], "area": [], "watertight": []}
    ref = {"surface": [], "spectral": [], "total": [], "vertices": [], "area_ratio": [], "watertight": [],
           "eigen_ok": []}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for e in entries:
            c = load_complex(e.path, e.roles, e.complex_id)
            s = c.structure
            t_mesh = t_spec = 0.0
            for mask in (c.is_antibody, c.is_antigen):
                sel = mask[s.atom_residue]
                t0 = time.perf_counter()
                mesh = molecular_surface(s.atom_coords[sel], s.atom_elements[sel], s.atom_residue[sel],
                                         cfg.grid_angstrom, cfg.probe_angstrom, cfg.target_vertices)
                t1 = time.perf_counter()
                spectral_and_descriptors(mesh.vertices, mesh.faces, mesh.normals, cfg)
                t2 = time.perf_counter()
                t_mesh, t_spec = t_mesh + t1 - t0, t_spec + t2 - t1
                tm = mesh.trimesh()
                ours["vertices"].append(mesh.n_vertices)
                ours["area"].append(tm.area)
                ours["watertight"].append(tm.is_watertight)
                if have_pymol:
                    pdb = write_pdb(s, tmp / "protein.pdb", residue_mask=mask)
                    t0 = time.perf_counter()
                    pm = pymol_mesh(pdb, tmp)
                    t1 = time.perf_counter()
                    try:
                        spectral_and_descriptors(pm.vertices, pm.faces, pm.vertex_normals, cfg)
                        ok = True
                    except AbsitesError:
                        ok = False
                    t2 = time.perf_counter()
                    ref["surface"].append(t1 - t0)
                    ref["spectral"].append(t2 - t1)
                    ref["vertices"].append(len(pm.vertices))
                    ref["area_ratio"].append(pm.area / tm.area)
                    ref["watertight"].append(pm.is_watertight)
                    ref["eigen_ok"].append(ok)
            ours["mesh"].append(t_mesh)
            ours["spectral"].append(t_spec)
            ours["total"].append(t_mesh + t_spec)
            if have_pymol:
                ref["total"].append(sum(ref["surface"][-2:]) + sum(ref["spectral"][-2:]))
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    med = lambda v: float(np.median(v))  # noqa: E731
    print(f"# bench_surface: {len(entries)} sample complexes (antibody + antigen each), 1 core, "
          f"surface config {args.surface_config} {cfg.as_dict()}, commit {commit or '?'}, "
          f"{platform.machine()}, python {platform.python_version()}")
    print("| route | median s / complex | mesh s | eigen + HKS/WKS + grad s | vertices / protein | watertight |")
    print("|---|---:|---:|---:|---:|---:|")
    print(f"| absites SES (voxel EDT + marching cubes) | {med(ours['total']):.2f} | {med(ours['mesh']):.2f} | "
          f"{med(ours['spectral']):.2f} | {med(ours['vertices']):.0f} | {np.mean(ours['watertight']):.0%} |")
    if have_pymol:
        pairs = np.array(ref["surface"]).reshape(-1, 2).sum(1)
        spec = np.array(ref["spectral"]).reshape(-1, 2).sum(1)
        print(f"| PyMOL surface_quality 0 + same spectral | {med(ref['total']):.2f} | {med(pairs):.2f} | "
              f"{med(spec):.2f} | {med(ref['vertices']):.0f} | {np.mean(ref['watertight']):.0%} |")
        ratio = np.array(ref["area_ratio"])
        print(f"\nPyMOL / absites: time ratio {med(ref['total']) / med(ours['total']):.2f}; "
              f"area ratio median {med(ratio):.3f} (IQR {np.percentile(ratio, 25):.3f}-{np.percentile(ratio, 75):.3f}); "
              f"PyMOL meshes whose eigen-solve passes (one zero mode): {np.mean(ref['eigen_ok']):.0%}")
    else:
        print("\nPyMOL route not run (pip install -e '.[pymol]' to compare)")


if __name__ == "__main__":
    main()
