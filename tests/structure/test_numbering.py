"""ANARCI numbering and CDR masks.

Ground truth for the CDR check is the file's own residue numbering where the
file is Chothia-numbered; see :mod:`absites.structure.numbering_check` for how
that is decided without looking at the CDRs (the ``parapred/`` files are raw
wwPDB entries: many carry sequential or Kabat numbering and cannot serve).
"""

from __future__ import annotations

import numpy as np
import pytest

from absites.errors import ConfigError, NumberingError
from absites.structure.complex import ChainRoles, load_complex
from absites.structure.numbering import (
    CDR_NAMES,
    annotate_antibody,
    cdr_codes_from_positions,
    number_complex,
    number_sequences,
)
from absites.structure.numbering_check import check_file_numbering
from conftest import SAMPLE



@pytest.mark.slow
def test_cdrs_agree_with_chothia_numbered_files():
    checks = []
    for cid in sorted(SAMPLE):  # trimmed wwPDB entries (parapred/ and abag_benchmark/)
        e = SAMPLE[cid]
        checks += check_file_numbering(load_complex(e.path, e.roles, cid))
    judged = [c.cdr_agree for c in checks if c.file_scheme == "chothia"]
    assert len(judged) >= 10, "too few Chothia-numbered chains in the sample to judge"
    assert np.mean(judged) >= 0.95


def test_known_heavy_chain_numbering():
    # 1bgx heavy chain: ANARCI puts the CDR-H1 insertion at 31A (Chothia), as the file does
    e = SAMPLE["1bgx_HL_T"]
    c = load_complex(e.path, e.roles)
    ann = annotate_antibody(c, "chothia", 0)
    heavy = c.structure.res_chain == "H"
    numbering = list(ann.numbering[heavy])
    assert "H31A" in numbering and "H100A" in numbering
    h1 = [n for n, code in zip(numbering, ann.cdr[heavy]) if code == CDR_NAMES.index("H1") + 1]
    assert h1 == ["H26", "H27", "H28", "H29", "H30", "H31", "H31A", "H32"]


@pytest.mark.parametrize("definition", ["chothia", "north", "imgt"])
def test_every_cdr_found_on_sample(definition):
    for cid in sorted(SAMPLE)[:6]:
        e = SAMPLE[cid]
        c = load_complex(e.path, e.roles, cid)
        ann = annotate_antibody(c, definition, 2)
        assert set(np.unique(ann.cdr[ann.cdr > 0])) == set(range(1, 7)), cid
        assert (ann.cdr[c.is_antigen] == 0).all()


def test_flank_extends_each_cdr_by_two_positions():
    e = SAMPLE["1ahw_BA_C"]
    c = load_complex(e.path, e.roles)
    bare, flanked = annotate_antibody(c, "chothia", 0), annotate_antibody(c, "chothia", 2)
    assert ((bare.cdr > 0) <= (flanked.cdr > 0)).all()
    # six CDRs, two flanks of two residues each (structure permitting)
    extra = int((flanked.cdr > 0).sum() - (bare.cdr > 0).sum())
    assert 20 <= extra <= 24


def test_swapped_roles_rejected():
    e = SAMPLE["1ahw_BA_C"]
    swapped = ChainRoles(e.roles.light, e.roles.heavy, e.roles.antigen)
    with pytest.raises(NumberingError, match="numbers it as"):
        number_complex(load_complex(e.path, swapped), "chothia")


def test_antigen_given_as_antibody_rejected():
    e = SAMPLE["1ahw_BA_C"]
    wrong = ChainRoles(e.roles.antigen[0], e.roles.light, (e.roles.heavy,))
    with pytest.raises(NumberingError, match="no antibody variable domain"):
        number_complex(load_complex(e.path, wrong), "chothia")


def test_non_antibody_sequence_not_numbered():
    assert number_sequences({"X": "MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQ"}, "chothia") == {}


def test_unknown_definition():
    with pytest.raises(ConfigError):
        cdr_codes_from_positions([(26, "")], "H", "kabbat", 0)


def test_hmmscan_is_the_wheels_binary_not_its_launcher():
    """The ``hmmer`` wheel's ``bin/hmmscan`` is a Python launcher; numbering calls the native binary behind it."""
    from pathlib import Path

    import hmmer

    from absites.structure.numbering import _hmmer_path

    exe = Path(_hmmer_path()) / "hmmscan"
    assert exe.parent == Path(hmmer.BIN_DIR)
    assert not exe.read_bytes().startswith(b"#!")  # a native executable, not a script
