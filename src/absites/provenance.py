"""Where a result came from: the code revision and the machine, written into checkpoints and records."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

from absites import __version__
from absites.config import PROJECT_ROOT


def _git(*args: str, root: Path = PROJECT_ROOT) -> str:
    try:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True,
                              timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def git_revision(mark_dirty: bool = True, root: Path = PROJECT_ROOT) -> str:
    """Short commit of the checkout at ``root`` (this package's by default), ``-dirty`` when tracked files differ
    from it; "" outside git."""
    rev = _git("rev-parse", "--short", "HEAD", root=root)
    if rev and mark_dirty and _git("status", "--porcelain", "--untracked-files=no", root=root):
        rev += "-dirty"
    return rev


def code_version() -> str:
    """Package version plus the commit (``0.1.0+abc1234``), or the bare version outside git."""
    rev = git_revision(mark_dirty=False)
    return f"{__version__}+{rev}" if rev else __version__


def cpu_model() -> str:
    """The processor's name (``/proc/cpuinfo`` on Linux, else what ``platform`` knows; "" when nothing does)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def machine_description() -> str:
    """The machine in one line, with what decides CPU speed: the processor and the vector instructions
    torch's kernels use (AVX-512 or AVX2: matrix products run about twice as fast on the first; the same code
    ran 2–3× slower per epoch on an AVX2-only machine of this project, bench/RESULTS.md)."""
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    cpu = cpu_model()
    return (f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPU cores"
            f"{f' ({cpu}, {torch.backends.cpu.get_cpu_capability()})' if cpu else ''}, {gpu}, "
            f"Python {platform.python_version()}, torch {torch.__version__}")


def available_cpus() -> int:
    """Cores this process may use: its CPU affinity, capped by a cgroup v2 CPU quota when one is set."""
    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            n = min(n, max(1, int(int(quota) // int(period))))
    except (OSError, ValueError):
        pass
    return max(1, n)
