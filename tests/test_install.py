"""A non-editable install works: configs and default models ship inside the package."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import DATA_ROOT, SAMPLE

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_installed_wheel_predicts_the_demo_complex(tmp_path):
    """Build the wheel, install it (without dependencies: they are this environment's) into a folder that
    shadows the editable install, and predict the demo complex from an unrelated working directory."""
    wheels, site, work = tmp_path / "wheels", tmp_path / "site", tmp_path / "work"
    work.mkdir()
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(ROOT)], check=True,
                   capture_output=True, cwd=tmp_path)
    (wheel,) = wheels.glob("absites-*.whl")
    subprocess.run([*pip, "install", "--no-deps", "--target", str(site), str(wheel)], check=True, capture_output=True)
    env = {**os.environ, "PYTHONPATH": str(site), "ABSITES_DATA_ROOT": str(DATA_ROOT)}
    env.pop("ABSITES_CACHE_DIR", None)

    def run(*args):
        return subprocess.run([sys.executable, *args], cwd=work, env=env, capture_output=True, text=True, timeout=600)

    where = run("-c", "import absites.config as c; print(c.__file__); print(c.CONFIG_DIR); print(c.PROJECT_ROOT)")
    module, config_dir, project_root = where.stdout.split()
    assert Path(module).is_relative_to(site) and Path(config_dir).is_relative_to(site)
    assert Path(project_root) == work  # outputs of an installed package go to the working directory
    assert (Path(config_dir) / "bench" / "gep.yaml").is_file()
    res = run("-m", "absites.cli", "predict", str(SAMPLE["1ahw_BA_C"].path), "--out", "out", "--no-surfaces",
              "--no-progress")
    assert res.returncode == 0, res.stderr
    rows = (work / "out" / "1ahw_BA_C_residues.csv").read_text().splitlines()
    assert len(rows) > 400 and rows[0].startswith("pdb_id,chain")
