"""bench/bench_speedup.py: the base commit in its own worktree, both codes run in turn, the ratio of their epochs.

A throwaway git repository stands in for the project: two commits of a fake ``bench/bench_train.py`` that
writes the epoch times a real run records (10 s per epoch at the base, 2 s at the head, a slower first
epoch in both), so the table must read 5.0× whatever the machine does.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import bench_script

FAKE_TRAIN = '''import argparse, json, os
from pathlib import Path
ap = argparse.ArgumentParser()
ap.add_argument("--models"); ap.add_argument("--epochs", type=int); ap.add_argument("--surface-epochs", type=int)
{threads}
args = ap.parse_args()
assert os.environ["PYTHONPATH"].endswith("src") and os.environ["ABSITES_CACHE_DIR"].endswith("cache")
out = Path("runs/bench-train") / args.models
out.mkdir(parents=True, exist_ok=True)
seconds = [{first}] + [{steady}] * (args.epochs - 1)
(out / "best.json").write_text(json.dumps({{"history": [{{"seconds": s}} for s in seconds]}}))
'''


def _commit(repo: Path, message: str, first: float, steady: float, threads: bool) -> None:
    (repo / "bench").mkdir(exist_ok=True)
    (repo / "src" / "absites").mkdir(parents=True, exist_ok=True)
    (repo / "src" / "absites" / "__init__.py").write_text("")
    (repo / "bench" / "bench_train.py").write_text(FAKE_TRAIN.format(
        first=first, steady=steady, threads='ap.add_argument("--threads", type=int)' if threads else ""))
    for cmd in (["add", "-A"], ["commit", "-qm", message]):
        subprocess.run(["git", *cmd], cwd=repo, check=True)


def test_the_speedup_is_the_ratio_of_steady_epochs_of_both_codes(tmp_path, monkeypatch, capsys):
    repo = tmp_path / "project"
    repo.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    subprocess.run(["git", "config", "user.email", "t@example.org"], cwd=repo, check=True)
    subprocess.run(["git", "config", "user.name", "t"], cwd=repo, check=True)
    (repo / ".gitignore").write_text("/build/\n/runs/\n")
    _commit(repo, "base", first=30.0, steady=10.0, threads=False)  # an older script without --threads
    _commit(repo, "head", first=9.0, steady=2.0, threads=True)

    mod = bench_script("bench_speedup")
    monkeypatch.setattr(mod, "ROOT", repo)
    monkeypatch.setenv("ABSITES_DATA_ROOT", str(tmp_path))
    out = tmp_path / "speedup.md"
    monkeypatch.setattr(sys, "argv", ["bench_speedup.py", "--base", "HEAD~1", "--models", "egnn,gatv2",
                                      "--epochs", "3", "--rounds", "2", "--out", str(out)])
    mod.main()

    table = out.read_text()
    assert "| egnn | 10.00 | 2.00 | 5.0× |" in table and "| gatv2 | 10.00 | 2.00 | 5.0× |" in table
    short = lambda rev: subprocess.run(["git", "rev-parse", "--short", rev], cwd=repo, check=True,  # noqa: E731
                                       capture_output=True, text=True).stdout.strip()
    assert f"base {short('HEAD~1')} vs {short('HEAD')}," in table  # the trees it ran, not the installed package's
    assert (repo / "build").is_dir() and len(list((repo / "build").iterdir())) == 1  # one base worktree, reused
    log = capsys.readouterr().out
    assert log.count("base: epochs 30.00, 10.00, 10.00") == 4 and log.count("head: epochs 9.00, 2.00, 2.00") == 4


def test_steady_skips_the_first_epoch():
    mod = bench_script("bench_speedup")
    assert mod.steady([40.0, 3.0, 5.0, 4.0]) == 4.0
    assert mod.steady([7.0]) == 7.0
