"""Where a result came from: the code revision and the machine, written into checkpoints and records."""

from __future__ import annotations

import os
import platform
import subprocess

from absites import __version__
from absites.config import PROJECT_ROOT


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True,
                              timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def git_revision(mark_dirty: bool = True) -> str:
    """Short commit of the checkout, ``-dirty`` when tracked files differ from it; "" outside git."""
    rev = _git("rev-parse", "--short", "HEAD")
    if rev and mark_dirty and _git("status", "--porcelain", "--untracked-files=no"):
        rev += "-dirty"
    return rev


def code_version() -> str:
    """Package version plus the commit (``0.1.0+abc1234``), or the bare version outside git."""
    rev = git_revision(mark_dirty=False)
    return f"{__version__}+{rev}" if rev else __version__


def machine_description() -> str:
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPU cores, {gpu}, "
            f"Python {platform.python_version()}, torch {torch.__version__}")
