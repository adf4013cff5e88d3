"""Bounded fuzzing: mutated sample PDB text never fails with anything but the project's own errors."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from absites.errors import AbsitesError
from absites.structure.parse import read_structure
from conftest import SAMPLE, pdb_text

LINES = [l for l in pdb_text(SAMPLE["1oaz_JN_B"]).splitlines(keepends=True) if l.startswith(("ATOM", "HETATM", "TER"))]
BASE = LINES[:600]  # about 80 residues: fast to parse, all record kinds of the file

edit = st.one_of(
    st.tuples(st.just("replace"), st.integers(0, len(BASE) - 1), st.integers(0, 79), st.characters(max_codepoint=255)),
    st.tuples(st.just("delete"), st.integers(0, len(BASE) - 1), st.just(0), st.just("")),
    st.tuples(st.just("duplicate"), st.integers(0, len(BASE) - 1), st.just(0), st.just("")),
    st.tuples(st.just("truncate"), st.integers(0, len(BASE) - 1), st.integers(0, 79), st.just("")),
    st.tuples(st.just("junkline"), st.integers(0, len(BASE) - 1), st.just(0), st.text(max_size=90)),
)


def mutate(lines, edits):
    lines = list(lines)
    for kind, i, col, ch in edits:
        i = min(i, len(lines) - 1)
        if not lines:
            break
        if kind == "replace":
            l = lines[i]
            lines[i] = l[:col] + ch + l[col + 1:] if col < len(l) else l + ch
        elif kind == "delete":
            del lines[i]
        elif kind == "duplicate":
            lines.insert(i, lines[i])
        elif kind == "truncate":
            lines = lines[:i] + [lines[i][:col]]
        else:
            lines.insert(i, ch + "\n")
    return "".join(lines)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=st.lists(edit, min_size=1, max_size=8))
def test_parser_raises_only_project_errors(tmp_path, edits):
    path = tmp_path / "fuzz.pdb"
    path.write_text(mutate(BASE, edits), encoding="utf-8", errors="surrogatepass")
    try:
        s = read_structure(path)
    except AbsitesError:
        return
    assert s.n_atoms == s.atom_coords.shape[0] and s.n_residues >= 1
