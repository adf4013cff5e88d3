"""Noisy training copies (robust training): labels of the clean structure, cached, counted apart."""

from __future__ import annotations

import json

import numpy as np
import pytest

from absites.config import DataConfig, FeatureConfig, ModelConfig, TrainingConfig
from absites.data.augment import noisy_id, noisy_training_copies
from absites.errors import ConfigError
from absites.graph.build import graph_from_complex
from absites.structure.complex import load_complex
from absites.train.run import train_run
from conftest import SAMPLE, SAMPLE_INDEX

IDS = ["1ahw_BA_C", "3gjf_HL_AC"]


def test_noisy_copies_keep_clean_labels_and_are_cached(tmp_path):
    entries = [SAMPLE[c] for c in IDS]
    graphs, surfaces, skipped = noisy_training_copies(entries, FeatureConfig(), (1.0,), tmp_path)
    assert not skipped and surfaces is None
    assert [g.complex_id for g in graphs] == [noisy_id(c, 1.0) for c in IDS] == ["1ahw_BA_C~noise1", "3gjf_HL_AC~noise1"]
    for e, g in zip(entries, graphs):
        clean = graph_from_complex(load_complex(e.path, e.roles, e.complex_id), FeatureConfig())
        assert np.array_equal(g.y, clean.y) and np.array_equal(g.cdr, clean.cdr)
        shift = np.linalg.norm(g.pos_ca - clean.pos_ca, axis=1)
        assert 0.5 < np.median(shift) < 3.0  # σ = 1 Å per axis: |N(0, I)| has median 1.54 Å
        assert not np.allclose(g.rsa, clean.rsa)  # SASA recomputed from the noisy atoms
    again, _, _ = noisy_training_copies(entries, FeatureConfig(), (1.0,), tmp_path)
    assert all(np.array_equal(a.pos, b.pos) for a, b in zip(graphs, again))  # same draw, from the cache
    assert len(list((tmp_path / "noisy").rglob("*.npz"))) == 2


@pytest.mark.slow
def test_training_with_coord_noise_counts_clean_complexes(sample_cache, tmp_path):
    data = DataConfig(root=str(SAMPLE_INDEX.parent.parent), index="sample/index.csv", cache_dir=str(sample_cache))
    run = tmp_path / "run"
    train_run(ModelConfig("prior"), TrainingConfig(coord_noise=[0.5]), data, FeatureConfig(), None, run,
              workers=2)  # 10 noisy records to build: both cores
    meta = json.loads((run / "metrics.json").read_text())["meta"]
    assert meta["data"]["n_train_records"] == 2 * meta["data"]["n_train"] > 0
    assert meta["training"]["coord_noise"] == [0.5]


@pytest.mark.parametrize("bad", [[0.0], [-1.0], ["x"], [9.0]])
def test_coord_noise_is_validated(bad):
    with pytest.raises(ConfigError, match="coord_noise"):
        TrainingConfig(coord_noise=bad)
