"""Interface labels against the index's published contact counts (all 30 sample complexes)."""

from __future__ import annotations

import numpy as np
import pytest

from absites.errors import NoContactError
from absites.structure.complex import load_complex
from absites.structure.labels import atom_partner_distance, interface_labels, require_contact
from conftest import SAMPLE, full_index_rows, pdb_text, shift_chains, write_text

INDEX = full_index_rows()


@pytest.mark.parametrize("complex_id", sorted(SAMPLE))
def test_contact_counts_match_index(complex_id):
    entry = SAMPLE[complex_id]
    c = load_complex(entry.path, entry.roles, complex_id)
    labels = interface_labels(c, 4.5)
    assert int(labels[c.is_antigen].sum()) == int(INDEX[complex_id]["n_epitope_res_4.5A"])
    assert int(labels[c.is_antibody].sum()) == int(INDEX[complex_id]["n_paratope_res_4.5A"])


def test_cutoff_is_configurable_and_monotone():
    entry = SAMPLE["1ahw_BA_C"]
    c = load_complex(entry.path, entry.roles)
    small, large = interface_labels(c, 4.5), interface_labels(c, 8.0)
    assert (small <= large).all() and large.sum() > small.sum()


def test_no_contact_raises(tmp_path):
    entry = SAMPLE["1ahw_BA_C"]
    text = shift_chains(pdb_text(entry), set(entry.roles.antigen), 200.0)
    c = load_complex(write_text(tmp_path / "apart.pdb", text), entry.roles)
    labels = interface_labels(c, 4.5)
    assert not labels.any()
    with pytest.raises(NoContactError, match="no heavy atoms within 4.5"):
        require_contact(c, labels, 4.5)


@pytest.mark.parametrize("cutoff", [4.5, 8.0])
def test_bounded_partner_distance_is_exact_within_the_bound(cutoff):
    """The k-d tree search bounded at the cutoff gives the same distance to every atom within it, and inf beyond."""
    e = SAMPLE["1ahw_BA_C"]
    c = load_complex(e.path, e.roles, e.complex_id)
    full, bounded = atom_partner_distance(c), atom_partner_distance(c, cutoff)
    near = full <= cutoff
    assert near.sum() > 50  # an interface, both sides
    np.testing.assert_array_equal(bounded[near], full[near])
    assert (np.isinf(bounded[full > cutoff + 1e-6])).all()
