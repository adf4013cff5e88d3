"""Partner descriptors: values counted by hand on sample complexes, pose independence, one protein alone."""

from __future__ import annotations

import dataclasses
import pickle

import numpy as np

from absites.graph.partner import EXPOSED, PARTNER_FEATURES, partner_features
from absites.metrics import task_mask
from absites.models.baselines import SklearnBaseline

IDS = ["1ahw_BA_C", "1e6j_HL_P", "1jps_HL_T"]
COL = {name: i for i, name in enumerate(PARTNER_FEATURES)}
CHARGE = {"LYS": 1, "ARG": 1, "ASP": -1, "GLU": -1}


def test_antigen_residues_carry_the_counted_cdr_summary_and_their_own_products(graphs):
    for g in graphs:
        ab = g.is_antibody.astype(bool)
        f = partner_features(g)
        assert f.shape == (g.num_nodes, len(PARTNER_FEATURES)) and f.dtype == np.float32 and np.isfinite(f).all()
        cdr = [r for r, a, c, s in zip(g.res_name, ab, g.cdr, g.rsa) if a and c > 0 and s >= EXPOSED]
        assert len(cdr) > 10  # an Fv offers some dozens of exposed CDR residues
        charge = sum(CHARGE.get(r, 0) for r in cdr) / len(cdr)
        aromatic = sum(r in ("PHE", "TRP", "TYR") for r in cdr) / len(cdr)
        h3 = int((ab & (g.cdr == 3)).sum())  # CDR codes: H1 H2 H3 L1 L2 L3 = 1..6
        ag = np.flatnonzero(~ab)
        np.testing.assert_allclose(f[ag, COL["partner_charge"]], charge, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(f[ag, COL["partner_aromatic"]], aromatic, rtol=1e-5)
        np.testing.assert_allclose(f[ag, COL["partner_h3"]], h3 / 20.0, rtol=1e-6)
        np.testing.assert_allclose(f[ag, COL["partner_log_size"]], np.log1p(len(cdr)), rtol=1e-6)
        own = np.array([CHARGE.get(r, 0) for r in g.res_name[ag]])
        np.testing.assert_allclose(f[ag, COL["charge_product"]], own * charge, rtol=1e-5, atol=1e-7)
        arom = np.array([r in ("PHE", "TRP", "TYR") for r in g.res_name[ag]], dtype=float)
        np.testing.assert_allclose(f[ag, COL["aromatic_product"]], arom * aromatic, rtol=1e-5, atol=1e-7)
        # the antibody's rows describe the antigen's exposed surface, with no H3 of their own
        exposed_ag = [r for r, a, s in zip(g.res_name, ab, g.rsa) if not a and s >= EXPOSED]
        np.testing.assert_allclose(f[ab, COL["partner_charge"]],
                                   sum(CHARGE.get(r, 0) for r in exposed_ag) / len(exposed_ag), rtol=1e-5, atol=1e-7)
        assert (f[ab, COL["partner_h3"]] == 0).all()


def test_the_partner_pose_is_never_read_and_a_protein_alone_gets_unknowns(graphs):
    g = graphs[0]
    ab = g.is_antibody.astype(bool)
    moved = g.pos_ca.copy(), g.pos.copy()
    for a in moved:
        a[ab] += [100.0, 0.0, 0.0]
    np.testing.assert_array_equal(partner_features(dataclasses.replace(g, pos_ca=moved[0], pos=moved[1])),
                                  partner_features(g))
    alone = dataclasses.replace(g, is_antibody=np.zeros_like(g.is_antibody))
    assert np.isnan(partner_features(alone)).all()


def test_gbm_with_partner_reads_it_for_the_epitope_only_and_handles_an_antigen_alone(graphs):
    train, query = graphs[:2], graphs[2]
    model = SklearnBaseline(seed=0, max_iter=20, partner=True).fit(train)
    plain = SklearnBaseline(seed=0, max_iter=20).fit(train)
    assert model.models["epitope"].n_features_in_ == plain.models["epitope"].n_features_in_ + len(PARTNER_FEATURES)
    assert model.models["paratope"].n_features_in_ == plain.models["paratope"].n_features_in_
    prob = model.predict(query)
    ab = query.is_antibody.astype(bool)
    assert prob.shape == (query.num_nodes,) and ((prob >= 0) & (prob <= 1)).all()
    np.testing.assert_allclose(plain.predict(query)[ab], prob[ab])
    assert not np.allclose(plain.predict(query)[task_mask(query, "epitope")], prob[~ab])
    # the antigen alone: partner columns unknown, still one probability per residue
    alone = dataclasses.replace(query, is_antibody=np.zeros_like(query.is_antibody))
    p = model.predict(alone)
    assert np.isfinite(p).all() and not np.allclose(p[~ab], prob[~ab])  # scored without the antibody
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict(query), prob)
    state = dict(plain.__dict__)
    del state["partner"]  # a gbm pickled before partner existed reads none
    old = SklearnBaseline.__new__(SklearnBaseline)
    old.__setstate__(state)
    np.testing.assert_array_equal(old.predict(query), plain.predict(query))

