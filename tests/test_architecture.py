"""Stages import only downwards: the order in src/absites/ARCHITECTURE.md, checked on every import."""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "absites"
LEAF = {"errors", "config", "registry", "metrics", "provenance", "__version__"}


def _stages() -> list[str]:
    text = (PACKAGE / "ARCHITECTURE.md").read_text()
    line = re.search(r"^stages: (.+)$", text, re.MULTILINE)
    assert line, "ARCHITECTURE.md names no stage order"
    return [s.strip() for s in line.group(1).split("<")]


def _stage(module: str) -> str:
    parts = module.split(".")
    if len(parts) < 2 or parts[1] in LEAF:
        return "leaf"
    return "cli" if parts[1] == "cli" else parts[1]


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            out |= {id(n) for child in node.body for n in ast.walk(child)}
    return out


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    skip = _type_checking_nodes(tree)
    found = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("absites"):
            found += [node.module] if node.module != "absites" else [f"absites.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.startswith("absites")]
    return found


def test_every_folder_is_a_stage_of_the_order():
    stages = _stages()
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert folders <= set(stages), folders - set(stages)
    modules = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__", "cli"}
    assert modules <= LEAF, f"top-level modules must be leaf modules or the cli: {modules - LEAF}"


def test_no_module_imports_a_stage_above_its_own():
    stages = _stages()
    upward = []
    for path in PACKAGE.rglob("*.py"):
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")
        here = stages.index(_stage(module))
        for target in _imports(path):
            if stages.index(_stage(target)) > here:
                upward.append(f"{module} ({_stage(module)}) imports {target} ({_stage(target)})")
    assert not upward, "\n".join(upward)


def test_the_checker_sees_function_local_imports(tmp_path):
    code = "def f():\n    from absites.evaluate.bench_run import run_benchmark\n"
    (tmp_path / "m.py").write_text(code)
    assert _imports(tmp_path / "m.py") == ["absites.evaluate.bench_run"]
    (tmp_path / "t.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import absites.cli\n")
    assert _imports(tmp_path / "t.py") == []
