"""The CLI, through click's runner and as a subprocess (one-line errors, no tracebacks)."""

from __future__ import annotations

import json
import subprocess
import sys

from click.testing import CliRunner

from absites.cli import cli
from conftest import SAMPLE, write_text


def test_prepare_sample_subset(tmp_path):
    result = CliRunner().invoke(cli, ["prepare", "--data", "sample", "--ids", "1ahw,3gjf", "--split", "val",
                                      "--cache-dir", str(tmp_path), "--no-progress"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["entries"] == 1 and summary["built"] == 1  # 3gjf is a test-split complex


def test_prepare_single_file_single_domain(tmp_path):
    e = SAMPLE["1ahw_BA_C"]
    result = CliRunner().invoke(cli, ["prepare", "--file", str(e.path), "--heavy", "B", "--antigen", "C",
                                      "--cache-dir", str(tmp_path), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout.strip().splitlines()[-1])["built"] == 1


def run_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "absites.cli", *args], capture_output=True, text=True, cwd=cwd)


def test_bad_config_is_one_line_error(tmp_path):
    bad = write_text(tmp_path / "f.yaml", "knn_k: 0\n")
    proc = run_cli("prepare", "--features", str(bad), "--cache-dir", str(tmp_path))
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: features: knn_k") and "Traceback" not in proc.stderr


def test_bad_file_is_recorded_not_a_traceback(tmp_path):
    junk = write_text(tmp_path / "junk.pdb", "not a structure\n")
    proc = run_cli("prepare", "--file", str(junk), "--heavy", "H", "--antigen", "A", "--cache-dir", str(tmp_path),
                   "--no-progress")
    assert proc.returncode == 2  # nothing could be prepared: non-zero, with the reason and the manifest
    assert "skipped: junk:" in proc.stderr and "no ATOM/HETATM records" in proc.stderr
    assert (tmp_path / "manifests" / "junk.csv").exists()
    assert "Traceback" not in proc.stderr


def test_usage_error():
    proc = run_cli("prepare", "--file", "x.pdb")
    assert proc.returncode == 2 and "--file needs --heavy and --antigen" in proc.stderr


def test_predict_leaves_without_teardown_after_exit_handlers_and_output(tmp_path):
    """After a prediction the console entry point ends the process at once (no module teardown: nothing
    after ``main()`` runs), yet the exit handlers have run and every buffered line has reached the pipe."""
    e = SAMPLE["1ahw_BA_C"]
    code = ("import atexit, sys\n"
            "from absites import cli\n"
            "atexit.register(print, 'exit handler ran')\n"  # buffered: must be flushed before the process ends
            "sys.argv[1:] = ['predict', sys.argv[1], '--out', sys.argv[2], '--fast', '--no-surfaces', '--no-progress']\n"
            "cli.main()\n"
            "print('after main')\n")
    proc = subprocess.run([sys.executable, "-c", code, str(e.path), str(tmp_path / "out")], capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("1ahw_BA_C: H=B L=A Ag=C") and lines[-1] == "exit handler ran"
    assert "after main" not in proc.stdout
    assert (tmp_path / "out" / "1ahw_BA_C_residues.csv").stat().st_size > 10_000
