"""Epitope templates: labels of homologous antigens moved by alignment, never from the complex itself."""

from __future__ import annotations

import dataclasses
import pickle

import numpy as np
import pytest

from absites.metrics import task_mask
from absites.models.baselines import SklearnBaseline
from absites.models.templates import TEMPLATE_FEATURES, TemplateLibrary, antigen_chains, pdb_entry

# tissue factor (antibody 5G9), Taq polymerase, von Willebrand factor A1, tissue factor again (D3H44)
IDS = ["1ahw_BA_C", "1bgx_HL_T", "1fns_HL_A", "1jps_HL_T"]


def other_antibody(graph, complex_id: str):
    """The same antigen (same labels) bound by a different antibody: CDR residues renamed, new id."""
    names = graph.res_name.copy()
    names[graph.cdr > 0] = "GLY"
    return dataclasses.replace(graph, complex_id=complex_id, res_name=names)


def residues(graph, keep: np.ndarray, complex_id: str):
    """The residues ``keep`` of ``graph`` alone (no edges: templates read none)."""
    per_residue = {f.name: getattr(graph, f.name)[keep] for f in dataclasses.fields(graph)
                   if isinstance(getattr(graph, f.name), np.ndarray)
                   and getattr(graph, f.name).shape[:1] == (graph.num_nodes,)}
    empty = np.zeros((2, 0), dtype=np.int64)
    return dataclasses.replace(graph, complex_id=complex_id, **per_residue, edge_index=empty,
                               edge_attr=np.zeros((0, 2), np.float32), cross_edge_index=empty,
                               cross_edge_attr=np.zeros((0, 1), np.float32))


def test_labels_of_an_identical_antigen_transfer_exactly(graphs):
    tissue_factor = graphs[0]
    library = TemplateLibrary([tissue_factor], min_identity=0.5)
    query = other_antibody(tissue_factor, "9zzz_HL_C")
    f = library.features(query)
    ag = ~query.is_antibody.astype(bool)
    assert f.shape == (query.num_nodes, len(TEMPLATE_FEATURES))
    np.testing.assert_array_equal(f[ag, 0], tissue_factor.y[ag])  # one template: its labels
    np.testing.assert_array_equal(f[ag, 1], 1.0)
    np.testing.assert_allclose(f[ag, 2], np.log(2.0))
    np.testing.assert_array_equal(f[ag, 3], tissue_factor.y[ag])
    assert (f[ag, 4] < 1.0).all() and (f[ag, 4] > 0.0).all()  # CDRs alike, not identical
    assert (f[~ag, 0] == -1).all() and (f[~ag, 1] == 0).all()  # antibody residues: no template


def test_a_truncated_antigen_alone_gets_the_labels_of_its_own_residues(graphs):
    tissue_factor = graphs[0]
    library = TemplateLibrary([tissue_factor], min_identity=0.5)
    (idx, _), = antigen_chains(tissue_factor)
    cut = residues(tissue_factor, idx[15:], "9zzz_C")  # the antigen alone, its first 15 residues missing
    f = library.features(cut)
    np.testing.assert_array_equal(f[:, 0], tissue_factor.y[idx[15:]])
    # no antibody to compare: the consensus stands in for the closest antibody
    np.testing.assert_array_equal(f[:, 3], f[:, 0])
    np.testing.assert_array_equal(f[:, 4], 0.0)


def test_another_antibody_on_the_same_antigen_is_a_template(graphs):
    tf_5g9, _, _, tf_d3h44 = graphs  # two PDB entries of tissue factor, two different antibodies
    f = TemplateLibrary([tf_5g9], min_identity=0.5).features(tf_d3h44)
    ag = ~tf_d3h44.is_antibody.astype(bool)
    covered = f[ag, 1] > 0
    assert covered.mean() > 0.9 and (f[ag, 1][covered] > 0.95).all()
    assert (f[ag, 4][covered] < 0.9).all()  # the two antibodies' CDRs differ
    # the labels that moved are 5G9's epitope, at the aligned residues of D3H44's antigen
    assert set(np.unique(f[ag, 0][covered])) <= {0.0, 1.0} and f[ag, 0][covered].sum() > 5


def test_diagonal_prefilter_keeps_a_40_percent_mutant_and_drops_an_unrelated_chain(graphs):
    rng = np.random.default_rng(0)
    letters = np.array(list("ACDEFGHIKLMNPQRSTVWY"))
    (idx, seq), = antigen_chains(graphs[0])
    mutant = np.array(list(seq))
    where = rng.choice(len(seq), int(0.4 * len(seq)), replace=False)
    mutant[where] = rng.choice(letters, where.size)
    library = TemplateLibrary([graphs[0], graphs[2]], min_identity=0.5)
    unrelated = "".join(rng.choice(letters, 300))
    assert seq in library.candidates("".join(mutant))
    assert library.candidates(unrelated) == []


def test_never_its_own_template_and_unrelated_antigens_give_none(graphs):
    tissue_factor, polymerase, vwf, _ = graphs
    library = TemplateLibrary([tissue_factor, polymerase], min_identity=0.5)
    assert (library.features(tissue_factor)[:, 1] == 0).all()  # itself: same entry and same antibody
    renamed = dataclasses.replace(tissue_factor, complex_id="my_complex")  # no PDB id: the antibody rule
    assert (library.features(renamed)[:, 1] == 0).all()
    assert (library.features(vwf)[:, 1] == 0).all()  # no homologous antigen in the library
    assert pdb_entry("1ahw_BA_C") == "1ahw" and pdb_entry("my_complex") == ""


def test_training_features_leave_each_complex_out(graphs):
    tissue_factor = graphs[0]
    twin = other_antibody(tissue_factor, "9zzz_HL_C")
    library = TemplateLibrary([tissue_factor, twin, graphs[2]], min_identity=0.5)
    f_tf, f_twin, f_vwf = library.training_features([tissue_factor, twin, graphs[2]])
    ag = ~tissue_factor.is_antibody.astype(bool)
    np.testing.assert_array_equal(f_tf[ag, 0], twin.y[ag])  # from the twin only
    np.testing.assert_allclose(f_tf[ag, 2], np.log(2.0))
    np.testing.assert_array_equal(f_twin[ag, 0], tissue_factor.y[ag])
    assert (f_vwf[:, 1] == 0).all()
    with pytest.raises(ValueError, match="in order"):
        library.training_features([twin, tissue_factor, graphs[2]])


def variant(graph, complex_id: str):
    """The same antigen bound by a close variant of the same antibody: one CDR residue mutated."""
    names = graph.res_name.copy()
    first = np.flatnonzero(graph.cdr > 0)[0]
    names[first] = "TRP" if names[first] != "TRP" else "ALA"
    return dataclasses.replace(graph, complex_id=complex_id, res_name=names)


def test_relatives_leave_out_a_variant_of_the_same_antibody_in_training_only(graphs):
    tf_5g9, _, vwf, tf_d3h44 = graphs
    close = variant(tf_5g9, "9zzz_HL_C")  # not identical, so the id rule keeps it as a template
    pool = [tf_5g9, close, tf_d3h44, vwf]
    ag = ~tf_5g9.is_antibody.astype(bool)
    plain = TemplateLibrary(pool, min_identity=0.5).training_features(pool)
    capped_library = TemplateLibrary(pool, min_identity=0.5, relatives=0.9)
    capped = capped_library.training_features(pool)
    assert plain[0][ag, 4].max() > 0.9  # the variant is the closest template antibody ...
    np.testing.assert_allclose(np.expm1(plain[0][ag, 2]).max(), 2.0)  # ... beside D3H44
    assert capped[0][ag, 4].max() < 0.9  # capped: only D3H44 (a different antibody) is left
    np.testing.assert_allclose(np.expm1(capped[0][ag, 2]).max(), 1.0)
    # D3H44's antibody is unlike both: it keeps both 5G9 entries as templates
    np.testing.assert_array_equal(capped[2], plain[2])
    # a query outside the library (prediction) keeps a relative it has: here 5G9 itself under a new id
    query = variant(tf_5g9, "8zzz_HL_C")
    assert capped_library.features(query)[ag, 4].max() > 0.9
    # ... unless it is a training complex outside the library (a noisy copy of one): then the cap applies
    assert capped_library.features(query, training=True)[ag, 4].max() < 0.9
    with pytest.raises(ValueError, match="relatives"):
        TemplateLibrary(pool, relatives=1.5)
    # a library pickled before relatives existed loads without them
    state = capped_library.__getstate__()
    del state["relatives"]
    old = TemplateLibrary.__new__(TemplateLibrary)
    old.__setstate__(state)
    assert old.relatives is None


def test_gbm_with_templates_fits_predicts_and_pickles(graphs):
    tissue_factor, polymerase, vwf, _ = graphs
    train = [tissue_factor, other_antibody(tissue_factor, "9zzz_HL_C"), polymerase, vwf]
    model = SklearnBaseline(seed=0, max_iter=20, templates=0.5).fit(train)
    query = other_antibody(tissue_factor, "8zzz_HL_C")
    prob = model.predict(query)
    assert prob.shape == (query.num_nodes,) and np.isfinite(prob).all() and ((prob >= 0) & (prob <= 1)).all()
    ag = task_mask(query, "epitope")
    # the known epitope of this very antigen ranks first
    assert prob[ag][query.y[ag] == 1].mean() > prob[ag][query.y[ag] == 0].mean()
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict(query), prob)
    # paratope scores do not read templates: the same as without them
    plain = SklearnBaseline(seed=0, max_iter=20).fit(train)
    ab = query.is_antibody.astype(bool)
    np.testing.assert_allclose(plain.predict(query)[ab], prob[ab])


def test_a_gbm_pickled_before_templates_still_loads(graphs):
    model = SklearnBaseline(seed=0, max_iter=5).fit(graphs)
    state = dict(model.__dict__)
    del state["templates"], state["library"]
    old = SklearnBaseline.__new__(SklearnBaseline)
    old.__setstate__(state)
    np.testing.assert_array_equal(old.predict(graphs[0]), model.predict(graphs[0]))


def test_notes_say_what_the_templates_know(graphs):
    tf_5g9, polymerase, vwf, tf_d3h44 = graphs
    model = SklearnBaseline(seed=0, max_iter=5, templates=0.5).fit([tf_5g9, polymerase])
    (note,) = model.notes(tf_d3h44)
    assert "1 training complex(es) with a homologous antigen" in note and "best identity 100%" in note
    (none,) = model.notes(vwf)
    assert "no antigen in the 2 training complexes" in none
    assert SklearnBaseline(seed=0, max_iter=5).fit([tf_5g9, polymerase]).notes(tf_d3h44) == []
