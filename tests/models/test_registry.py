"""One model registry: every model's class, parameters and batch keys agree with its entry."""

from __future__ import annotations

import inspect

import pytest

from absites import registry
from absites.config import CONFIG_DIR, ModelConfig, load_model_config
from absites.errors import ConfigError


@pytest.mark.parametrize("name", registry.names())
def test_entry_loads_and_declares_what_forward_takes(name):
    spec = registry.get(name)
    cls = spec.load()
    if spec.is_baseline:
        assert hasattr(cls, "fit") and hasattr(cls, "predict")
        return
    if spec.is_ensemble:  # combines trained runs: no forward, no batch keys
        assert spec.needs() == () and set(spec.allowed_params()) == {"members", "step", "calibrate", "focus"}
        return
    params = [p for p in inspect.signature(cls.forward).parameters.values() if p.name != "self"]
    assert all(p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) for p in params), "no **kwargs: nothing is swallowed"
    assert tuple(p.name for p in params) == spec.needs()
    assert set(spec.needs()) <= set(registry.BATCH_KEYS)


@pytest.mark.parametrize("name", registry.names())
def test_shipped_model_configs_use_allowed_params(name):
    cfg = load_model_config(CONFIG_DIR / "model" / f"{name}.yaml")
    assert cfg.spec is registry.get(name)
    cfg.spec.check_params(cfg.params)


def test_unknown_names_params_and_batch_keys_fail_clearly():
    with pytest.raises(ConfigError, match="unknown name 'egn'"):
        ModelConfig("egn")
    with pytest.raises(ConfigError, match="unknown param.*hiden.*allowed: hidden"):
        registry.get("egnn").build(10, hiden=32)
    model = registry.get("epmp").build(10)
    with pytest.raises(ConfigError, match="needs batch key.*cross_edge_index"):
        registry.select_inputs(model, {"x": 0, "edge_index": 0, "is_antibody": 0, "batch": 0})
    assert set(registry.select_inputs(model, {k: 0 for k in registry.BATCH_KEYS})) == set(model.needs)


def test_partner_free_models_are_the_baselines():
    assert {n for n in registry.names() if registry.get(n).partner_free} == set(registry.names("baseline"))
