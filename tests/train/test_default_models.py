"""make train-default with ensembles: shared members trained once, per-task ensembles, one-protein stand-ins,
model cards — into a folder of the test's own (never the shipped models)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from absites.config import FeatureConfig
from absites.graph import graph_from_complex
from absites.models.calibration import EpitopeCalibration
from absites.models.focus import EpitopeFocus
from absites.structure.complex import load_complex
from absites.train.default import main
from absites.train.run import load_run
from conftest import SAMPLE

CONFIG = {
    "members": {
        "prior": {"model": "prior", "training": "default", "train": {"value": "train"}, "val": {"value": "val"}},
        "gbm": {"model": "gbm", "params": {"max_iter": 7}, "training": "default", "train": {"value": "train"},
                "val": {"value": "val"}},
    },
    "paratope": {"ensemble": ["prior", "gbm"], "note": "* test pool: the sample"},
    "epitope": {"ensemble": ["prior", "gbm"], "calibrate": True, "focus": True},
    "alone": {"paratope": "gbm", "epitope": "prior"},
    "data": "sample",
}


def test_train_default_ships_ensembles_members_and_one_protein_models(tmp_path):
    cfg = tmp_path / "models.yaml"
    cfg.write_text(yaml.safe_dump(CONFIG))
    out = tmp_path / "shipped"
    (out / "members" / "retired").mkdir(parents=True)  # shipped before, no longer in the config
    main(["--config", str(cfg), "--out", str(out), "--runs", str(tmp_path / "runs"), "--workers", "1"])
    # members once each, only what predicting needs; a member no longer in use is not shipped
    assert sorted(p.name for p in (out / "members").iterdir()) == ["gbm", "prior"]
    assert [p.name for p in (out / "members" / "gbm").iterdir()] == ["baseline.joblib"]
    # a member's params: reach its model (over the model config's own)
    assert load_run(out / "members" / "gbm")[1]["model_params"]["max_iter"] == 7
    # the epitope ensemble is calibrated to the antigen's size, the paratope one is not
    assert json.loads((out / "epitope" / "ensemble.json").read_text())["calibration"]["active"]
    assert json.loads((out / "paratope" / "ensemble.json").read_text())["calibration"] is None
    # the focus is chosen for the epitope ensemble (recorded, on or off), not for the paratope one
    assert json.loads((out / "epitope" / "ensemble.json").read_text())["meta"]["model_params"]["focus"] is True
    assert json.loads((out / "paratope" / "ensemble.json").read_text())["focus"] is None
    assert "calibrated to the antigen's size" in (out / "epitope" / "MODEL_CARD.md").read_text()
    assert json.loads((out / "alone.json").read_text()) == {"paratope": "members/gbm", "epitope": "members/prior"}
    for task in ("paratope", "epitope"):
        state = json.loads((out / task / "ensemble.json").read_text())
        assert state["members"] == ["../members/prior", "../members/gbm"] and not (out / task / "metrics.json").exists()
        card = (out / task / "MODEL_CARD.md").read_text()
        assert f"default {task} model" in card and "* members" in card and "* ensemble: paratope = " in card
        assert "## Test (10 complexes)" in card
    assert "test pool: the sample" in (out / "paratope" / "MODEL_CARD.md").read_text()
    # the shipped folder predicts on its own: the weighted members, calibrated
    fn, meta, _ = load_run(out / "epitope")
    e = SAMPLE["1ahw_BA_C"]
    graph = graph_from_complex(load_complex(e.path, e.roles, "1ahw_BA_C"), FeatureConfig())
    members = [load_run(out / "members" / n)[0]([graph])["1ahw_BA_C"] for n in ("prior", "gbm")]
    w = np.asarray(meta["weights"]["epitope"])
    ag = ~graph.is_antibody.astype(bool)
    calibration = EpitopeCalibration.from_dict(json.loads((out / "epitope" / "ensemble.json").read_text())["calibration"])
    focus = EpitopeFocus.from_dict(json.loads((out / "epitope" / "ensemble.json").read_text())["focus"])
    expected = calibration.apply(graph, focus.apply(graph, w[0] * members[0] + w[1] * members[1]))
    np.testing.assert_allclose(fn([graph])["1ahw_BA_C"][ag], expected[ag], rtol=1e-5)
    # --only retrains the named member and keeps the other as shipped (same file, untouched)
    kept = (out / "members" / "gbm" / "baseline.joblib").stat().st_mtime_ns
    main(["--config", str(cfg), "--out", str(out), "--runs", str(tmp_path / "runs"), "--workers", "1",
          "--only", "prior"])
    assert (out / "members" / "gbm" / "baseline.joblib").stat().st_mtime_ns == kept
    assert json.loads((out / "epitope" / "ensemble.json").read_text())["members"] == ["../members/prior", "../members/gbm"]
    with pytest.raises(SystemExit, match="not among the members"):
        main(["--config", str(cfg), "--out", str(out), "--only", "egnn"])
    # --only none keeps every member and redoes the ensembles
    prior_kept = (out / "members" / "prior" / "baseline.joblib").stat().st_mtime_ns
    main(["--config", str(cfg), "--out", str(out), "--runs", str(tmp_path / "runs"), "--workers", "1",
          "--only", "none"])
    assert (out / "members" / "prior" / "baseline.joblib").stat().st_mtime_ns == prior_kept
    assert (out / "members" / "gbm" / "baseline.joblib").stat().st_mtime_ns == kept
    assert (out / "epitope" / "ensemble.json").exists()
