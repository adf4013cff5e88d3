"""Training speed-up over an earlier commit, both timed in the same session, runs interleaved.

Usage: python bench/bench_speedup.py [--base a367388] [--models epmp,egnn,gatv2,diffusionnet]
       [--epochs 3] [--surface-epochs 2] [--rounds 2] [--threads 2] [--out FILE]

Why: this 2-core machine does not hold one speed. On 2026-11-30 the same code ran GATv2 epochs at 2.32 s and
at 3.06 s hours apart, and on 2026-11-30's next session EPMP at 3.2 s against 1.3 s the day before
(bench/RESULTS.md). Seconds per epoch measured on different days cannot be compared, and a goal written as
seconds is met or missed with the weather. A ratio measured in one session, the two codes alternating, can.

How: the base commit is checked out into ``build/speedup-<commit>`` (a detached git worktree, kept between
runs: its ``cache/`` holds the graphs and surfaces it prepared with its own code). Each round runs, per model,
``bench/bench_train.py`` of the base tree, then of this tree, each in a fresh process with its own source on
``PYTHONPATH`` and its own cache; so the base rows cost what the base code cost, preparation excluded. Each run's
``best.json`` history gives its epoch times; a run's figure is the median of its epochs after the first (the
first carries one-off costs: GATv2's compile, first-touch of the samples). Prints one row per model: the
median over rounds of each code's figure, their ratio, and the ratio issue 14 asks for (its "now" over its
goal, for the default base a367388): a phase-independent reading of its s/epoch goals.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from absites.provenance import git_revision, machine_description

ROOT = Path(__file__).resolve().parents[1]
# Issue 14's own figures: s/epoch "now" (results/gep/table.md at a367388, the commit the issue was filed against)
# and the goal; their ratio is the speed-up the goal asks for. DiffusionNet: the lower end of "now 31–37".
ISSUE_14 = {"epmp": (12.3, 2.5), "egnn": (12.4, 2.5), "gatv2": (13.8, 2.5), "diffusionnet": (31.0, 6.0)}


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True, text=True).stdout.strip()


def base_tree(rev: str) -> Path:
    """A detached worktree of ``rev`` under build/ (created once, then reused with its cache)."""
    commit = _git("rev-parse", "--short", rev)
    tree = ROOT / "build" / f"speedup-{commit}"
    if not (tree / "src" / "absites").is_dir():
        tree.parent.mkdir(parents=True, exist_ok=True)
        _git("worktree", "add", "--detach", str(tree), commit)
    return tree


def epoch_seconds(tree: Path, model: str, epochs: int, surface_epochs: int, threads: int) -> list[float]:
    """Epoch times of one ``bench_train.py`` run of ``model`` in ``tree`` (a fresh process)."""
    cmd = [sys.executable, "bench/bench_train.py", "--models", model, "--epochs", str(epochs),
           "--surface-epochs", str(surface_epochs)]
    if "--threads" in (tree / "bench" / "bench_train.py").read_text():
        cmd += ["--threads", str(threads)]  # older scripts take torch's default: every core
    env = dict(os.environ, PYTHONPATH=str(tree / "src"), ABSITES_CACHE_DIR=str(tree / "cache"))
    done = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{model} in {tree.name} failed:\n{done.stderr[-3000:]}")
    history = json.loads((tree / "runs" / "bench-train" / model / "best.json").read_text())["history"]
    return [float(h["seconds"]) for h in history]


def steady(seconds: list[float]) -> float:
    """The median epoch after the first (the first alone when only one ran)."""
    return statistics.median(seconds[1:] if len(seconds) > 1 else seconds)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", default="a367388", help="the earlier commit (default: the issue-14 profile's)")
    ap.add_argument("--models", default="epmp,egnn,gatv2,diffusionnet")
    ap.add_argument("--epochs", type=int, default=3, help="epochs per graph-network run")
    ap.add_argument("--surface-epochs", type=int, default=2, help="epochs per surface-network run")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=None, help="also write the table here")
    args = ap.parse_args()
    if not os.environ.get("ABSITES_DATA_ROOT") and not (ROOT.parent / "shared" / "data").is_dir():
        sys.exit("bench_speedup: set ABSITES_DATA_ROOT to the data root (the GEP split's complexes)")
    base = base_tree(args.base)
    base_commit = base.name.removeprefix("speedup-")
    asked = ISSUE_14 if base_commit.startswith("a367388") else {}
    models = args.models.split(",")
    times: dict[tuple[str, str], list[float]] = {}
    for r in range(args.rounds):
        for model in models:
            for label, tree in (("base", base), ("head", ROOT)):
                s = epoch_seconds(tree, model, args.epochs, args.surface_epochs, args.threads)
                times.setdefault((model, label), []).append(steady(s))
                print(f"round {r + 1} {model} {label}: epochs {', '.join(f'{x:.2f}' for x in s)}", flush=True)
    lines = [f"# bench_speedup: base {base_commit} vs {git_revision(root=ROOT)}, {args.rounds} rounds "
             f"interleaved, {args.epochs} graph / {args.surface_epochs} surface epochs per run, median epoch after "
             f"the first; {args.threads} threads for this tree; {machine_description()}",
             "| model | base s/epoch | this tree s/epoch | speed-up | issue 14: now → goal | speed-up asked |",
             "|---|---:|---:|---:|---:|---:|"]
    for model in models:
        b, h = statistics.median(times[(model, "base")]), statistics.median(times[(model, "head")])
        now, goal = asked.get(model, (None, None))
        issue = f"{now} → {goal}" if now else "–"
        need = f"{now / goal:.1f}×" if now else "–"
        lines.append(f"| {model} | {b:.2f} | {h:.2f} | {b / h:.1f}× | {issue} | {need} |")
    print("\n".join(lines))
    if args.out:
        Path(args.out).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
