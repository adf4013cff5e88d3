"""The numpy forest gives scikit-learn's gradient-boosting probabilities exactly, and saved baselines use it."""

from __future__ import annotations

import pickle
import subprocess
import sys

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier

from absites.models.baselines import SklearnBaseline
from absites.models.trees import Forest

IDS = ["1ahw_BA_C", "3gjf_HL_AC", "1egj_HL_A", "1jrh_HL_I"]


def test_equal_to_sklearn_with_missing_values_on_both_sides():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, 6))
    y = (X[:, 0] + np.where(np.isnan(X[:, 1]), 1.0, X[:, 1]) * X[:, 2] + 0.3 * rng.normal(size=3000) > 0.2)
    X[rng.random(X.shape) < 0.1] = np.nan  # missing values in training: each split learns a side for them
    model = HistGradientBoostingClassifier(max_iter=60, learning_rate=0.1, random_state=0).fit(X, y.astype(int))
    forest = Forest.from_sklearn(model)
    assert forest.n_trees == model.n_iter_
    test = rng.normal(size=(500, 6))
    test[rng.random(test.shape) < 0.2] = np.nan
    test[:5, 3] = forest.threshold[~forest.is_leaf][:5]  # rows exactly on thresholds: x <= t goes left
    np.testing.assert_array_equal(forest.predict_proba(test), model.predict_proba(test))
    np.testing.assert_array_equal(forest.predict_proba(test.astype(np.float32)),
                                  model.predict_proba(test.astype(np.float32)))


def test_refuses_what_it_cannot_evaluate():
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(300, 3)), rng.integers(0, 3, 300)
    with pytest.raises(ValueError, match="binary"):
        Forest.from_sklearn(HistGradientBoostingClassifier(max_iter=5).fit(X, y))
    forest = Forest.from_sklearn(HistGradientBoostingClassifier(max_iter=5).fit(X, (y > 0).astype(int)))
    with pytest.raises(ValueError, match="3 features"):
        forest.predict_proba(X[:, :2])


def test_a_pickled_baseline_predicts_the_same_without_sklearn(graphs, tmp_path):
    """The saved gbm predicts what the fitted one does, and loading it in a new process imports no sklearn."""
    gbm = SklearnBaseline(seed=0, max_iter=40).fit(graphs[:3])
    back = pickle.loads(pickle.dumps(gbm))
    assert all(isinstance(m, Forest) for m in back.models.values())
    assert all(not isinstance(m, Forest) for m in gbm.models.values())  # the live model is untouched
    for g in graphs:
        np.testing.assert_array_equal(back.predict(g), gbm.predict(g))
    path = tmp_path / "gbm.pkl"
    path.write_bytes(pickle.dumps(gbm))
    code = ("import pickle, sys; pickle.loads(open(sys.argv[1], 'rb').read()); "
            "print(any(m == 'sklearn' or m.startswith('sklearn.') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
