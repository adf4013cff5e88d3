"""A second process that loads the network members of the shipped ensembles while ``predict`` does the rest.

A cold ``absites predict`` spends seconds importing torch, and nothing before the network's forward pass
needs it: parsing, numbering, the residue graph, the surfaces and the gradient-boosting members are
numpy / SciPy work. So when the ensembles have a network member, :class:`NetworkWorker` starts
``python -m absites.train.worker`` at once; that process imports torch and loads the checkpoints on
another core while this one carries on, and runs the network's forward passes when asked. The same code
runs on the same inputs, so the probabilities are the same as in one process at the same torch thread
count (tested byte for byte; both processes use torch's default).

Used only where it can help (:func:`worker_wanted`): at least two usable cores, torch not yet imported
here (then loading in-process costs nothing more), and ``ABSITES_PREDICT_WORKER`` not ``0``. If the
process cannot start, dies or fails to load a run, that run is loaded here instead, with a warning.

Protocol: pickled requests on the worker's stdin, one pickled reply each on its stdout, in order:
``("load", run_dir)`` -> ``None``; ``("predict", run_dir, graphs, surfaces)`` -> ``{complex_id: probs}``;
``("notes", run_dir, graph, task)`` -> ``[str]``. A reply is ``("ok", value)`` or ``("error", type name,
message, is_absites_error)``: an absites error is raised here again as the same class, anything else as a
``RuntimeError`` naming it. The worker exits at the end of its input, and is stopped when this process exits.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import pickle
import signal
import subprocess
import sys
from pathlib import Path

from absites import errors
from absites.config import run_file
from absites.errors import AbsitesError
from absites.provenance import available_cpus

log = logging.getLogger(__name__)

ENV = "ABSITES_PREDICT_WORKER"  # "0": load every member in this process
COMMAND = (sys.executable, "-m", "absites.train.worker")


def network_runs(run_dir: str | Path) -> list[Path]:
    """The network runs (``best.pt``) that loading ``run_dir`` needs: itself, or its ensemble's members, read from
    the run files alone (no training code imported, so that the worker can start before it is)."""
    found = run_file(run_dir)
    if found is None or found.suffix not in (".pt", ".json"):
        return []
    if found.suffix == ".pt":
        return [Path(run_dir).resolve()]
    try:
        members = json.loads(found.read_text())["members"]
    except (OSError, ValueError, KeyError, TypeError):
        return []  # the ensemble's own loader reports what is wrong with it
    return [d for rel in members for d in network_runs((found.parent / rel).resolve())]


def start_for(run_dirs: list[Path]) -> None:
    """Start the worker and ask it to load the network runs of ``run_dirs`` now, when it is wanted."""
    runs = list(dict.fromkeys(d for r in run_dirs for d in network_runs(r)))
    if runs and worker_wanted():
        worker = shared_worker()
        for run in runs:
            worker.load(run)


def worker_wanted() -> bool:
    """Whether a worker process would save time: two usable cores, torch not imported yet, not switched off."""
    return os.environ.get(ENV, "1") != "0" and "torch" not in sys.modules and available_cpus() >= 2


def run_notes(fn, graph, task=None) -> list[str]:
    """What a loaded run's predict function says about ``graph`` (none when it has no ``notes``)."""
    return fn.notes(graph, task) if hasattr(fn, "notes") else []


class WorkerFailed(Exception):
    """The worker process is gone, or could not load a run."""


class NetworkWorker:
    """One worker process serving the runs it was asked to load (see the module docstring)."""

    def __init__(self, command: tuple[str, ...] = COMMAND):
        # the worker imports this very package, wherever this process found it
        package_root = str(Path(__file__).resolve().parents[2])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH"))
                                                          if p)}
        self.proc = subprocess.Popen(list(command), stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        self.pending: list[str] = []  # run dirs whose "load" reply has not been read yet, in order
        self.loaded: dict[str, str | None] = {}  # run dir -> None when loaded, else why it failed
        atexit.register(self.close)

    def load(self, run_dir: Path) -> None:
        """Ask for ``run_dir`` to be loaded; returns at once (the reply is read before the first use)."""
        key = str(run_dir)
        if key in self.loaded or key in self.pending:
            return
        try:
            self._send(("load", key))
            self.pending.append(key)
        except WorkerFailed as exc:
            self.loaded[key] = str(exc)

    def call(self, kind: str, run_dir: Path, *args):
        """The reply to one request about a run this worker loaded; raises :class:`WorkerFailed` when that run
        is not available here, and otherwise the error the worker met (an absites error as its own class)."""
        key = str(run_dir)
        while key in self.pending:  # replies come in order: the loads asked for before this one
            done = self.pending.pop(0)
            status = self._receive()
            self.loaded[done] = None if status[0] == "ok" else f"{status[1]}: {status[2]}"
        why = self.loaded.get(key, "not asked to load it")
        if why is not None:
            raise WorkerFailed(why)
        self._send((kind, key, *args))
        status = self._receive()
        if status[0] == "ok":
            return status[1]
        _, name, message, ours = status
        if ours:  # the same absites error class as in one process (its message names the problem)
            cls = getattr(errors, name, AbsitesError)
            raise (cls if isinstance(cls, type) and issubclass(cls, AbsitesError) else AbsitesError)(message)
        raise RuntimeError(f"{name}: {message} (in the network worker)")

    def _send(self, request) -> None:
        try:
            pickle.dump(request, self.proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            self.proc.stdin.flush()
        except (OSError, ValueError) as exc:  # broken pipe, closed file
            raise WorkerFailed(f"worker process not running ({exc})") from None

    def _receive(self):
        try:
            return pickle.load(self.proc.stdout)
        except (EOFError, OSError, pickle.UnpicklingError) as exc:
            raise WorkerFailed(f"worker process stopped (exit status {self.proc.poll()}; {exc!r})") from None

    def close(self) -> None:
        """Stop the worker now (it keeps nothing worth waiting for: it may still be importing torch)."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout):
            try:
                pipe.close()
            except OSError:
                pass


class RemoteRun:
    """A run's predict function (``fn(graphs, surfaces) -> {complex_id: probs}``, with ``fn.notes``) served by a
    :class:`NetworkWorker`; loads the run in this process instead when the worker cannot serve it."""

    def __init__(self, worker: NetworkWorker, run_dir: Path):
        self.worker, self.run_dir, self.local = worker, Path(run_dir), None

    def _here(self, why: str):
        if self.local is None:
            from absites.train.run import load_run

            log.warning("network worker unavailable for %s (%s); loading it in this process", self.run_dir, why)
            self.local = load_run(self.run_dir)[0]
        return self.local

    def _ask(self, kind: str, *args):
        if self.local is None:
            try:
                return self.worker.call(kind, self.run_dir, *args)
            except WorkerFailed as exc:
                self._here(str(exc))
        if kind == "predict":
            return self.local(*args)
        return run_notes(self.local, *args)

    def __call__(self, graphs, surfaces=None):
        return self._ask("predict", graphs, surfaces)

    def notes(self, graph, task=None) -> list[str]:
        return self._ask("notes", graph, task)


_WORKER: NetworkWorker | None = None


def shared_worker() -> NetworkWorker:
    """This process's worker, started on first use."""
    global _WORKER
    if _WORKER is None or _WORKER.proc.poll() is not None:
        _WORKER = NetworkWorker()
    return _WORKER


def running_worker() -> NetworkWorker | None:
    """The worker :func:`start_for` started in this process, if any (only ``predict`` starts one)."""
    return _WORKER if _WORKER is not None and _WORKER.proc.poll() is None else None


def main() -> None:
    """The worker's side: answer requests from stdin until it closes."""
    # Ctrl-C reaches the whole process group: the parent handles it (and stops this process); no second traceback
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    requests = sys.stdin.buffer
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # whatever a library prints, Python or C, goes to stderr
    from absites.train.run import load_run

    runs = {}
    while True:
        try:
            request = pickle.load(requests)
        except EOFError:
            return
        kind, key, *args = request
        try:
            if kind == "load":
                runs[key] = load_run(key)[0]
                value = None
            elif kind == "predict":
                value = runs[key](*args)
            elif kind == "notes":
                value = run_notes(runs[key], *args)
            else:
                raise ValueError(f"unknown request {kind!r}")
            reply = ("ok", value)
        except Exception as exc:  # noqa: BLE001 - every failure goes back to the parent, which decides
            reply = ("error", type(exc).__name__, str(exc), isinstance(exc, AbsitesError))
        pickle.dump(reply, replies, protocol=pickle.HIGHEST_PROTOCOL)
        replies.flush()


if __name__ == "__main__":
    main()
