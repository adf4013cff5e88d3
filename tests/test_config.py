"""Every config under configs/ loads; invalid values and unknown keys are rejected."""

from __future__ import annotations

from pathlib import Path

import pytest

from absites.config import (
    CONFIG_DIR,
    DataConfig,
    FeatureConfig,
    load_data_config,
    load_feature_config,
    load_model_config,
    load_surface_config,
    load_training_config,
    resolve_data_root,
)
from absites.errors import ConfigError


@pytest.mark.parametrize("path", sorted(CONFIG_DIR.glob("*/*.yaml")), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_config_loads(path):
    import dataclasses

    from absites.config import load_yaml
    from absites.evaluate.benchmark import load_benchmark_config
    from absites.evaluate.bench_compare import is_compare_config, load_compare_config
    from absites.evaluate.unbound import is_unbound_config, load_unbound_config

    def bench(p):
        raw = load_yaml(p)
        if is_compare_config(raw):
            return load_compare_config(p)
        return (load_unbound_config if is_unbound_config(raw) else load_benchmark_config)(p)

    loader = {"features": load_feature_config, "data": load_data_config, "surface": load_surface_config,
              "model": load_model_config, "training": load_training_config, "bench": bench}[path.parent.name]
    cfg = loader(path)
    assert dataclasses.is_dataclass(cfg)
    if path.parent.name == "bench":
        assert cfg.name == path.stem
    elif path.parent.name == "model":
        assert cfg.name == path.stem or path.stem.startswith(cfg.name)


def test_defaults_are_the_reference_settings():
    cfg = load_feature_config("default")
    assert cfg == FeatureConfig()
    assert (cfg.contact_cutoff_angstrom, cfg.cdr_definition, cfg.cdr_flank, cfg.knn_k, cfg.knn_radius_angstrom) == (
        4.5, "chothia", 2, 15, 10.0)


@pytest.mark.parametrize("bad", [{"knn_k": 0}, {"cdr_definition": "kabbat"}, {"cross_edges": "all"},
                                 {"contact_cutoff_angstrom": -1}])
def test_invalid_values(bad):
    with pytest.raises(ConfigError):
        FeatureConfig(**bad)


def test_unknown_key(tmp_path):
    p = tmp_path / "f.yaml"
    p.write_text("knn_kk: 3\n")
    with pytest.raises(ConfigError, match="unknown key"):
        load_feature_config(p)


def test_data_root_resolution(tmp_path, monkeypatch):
    monkeypatch.setenv("ABSITES_DATA_ROOT", str(tmp_path))
    assert resolve_data_root() == tmp_path.resolve()
    assert resolve_data_root(tmp_path / "x") == (tmp_path / "x").resolve()
    monkeypatch.delenv("ABSITES_DATA_ROOT")
    # without the variable: ../shared/data beside the checkout (a layout built here, wherever this clone lives)
    import absites.config as config

    project, shared = tmp_path / "clone" / "absites", tmp_path / "clone" / "shared" / "data"
    project.mkdir(parents=True)
    monkeypatch.setattr(config, "PROJECT_ROOT", project)
    monkeypatch.chdir(tmp_path)
    assert resolve_data_root() == (project / "data").resolve()  # nothing beside it: the project's own data/
    shared.mkdir(parents=True)
    (shared / "index.csv").write_text("complex_id\n")
    assert resolve_data_root() == shared.resolve()
    assert DataConfig(cache_dir=str(tmp_path)).cache_path() == Path(tmp_path)


def test_prediction_display_surface_is_the_fast_training_default():
    from absites.predict.run import DISPLAY_SURFACE

    assert load_surface_config("fast") == DISPLAY_SURFACE
    assert load_surface_config("fast").as_dict()["marching_step"] == 2
    # configs written before marching_step existed keep their cache keys
    assert "marching_step" not in load_surface_config("coarse").as_dict()


def test_default_models_training_is_a_config_name_or_overrides():
    from absites.config import load_yaml
    from absites.train.default import _training

    assert _training("default") == load_training_config("default")
    smooth = _training({"config": "default", "epitope_smoothing": True})
    assert smooth.epitope_smoothing and smooth.epochs == load_training_config("default").epochs
    shipped = load_yaml(CONFIG_DIR / "default_models.yaml")
    for task in ("paratope", "epitope"):
        _training(shipped[task].get("training", "default"))
    with pytest.raises(ConfigError, match="no_such_option"):
        _training({"config": "default", "no_such_option": 1})
