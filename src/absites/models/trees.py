"""A fitted binary ``HistGradientBoostingClassifier`` as plain numpy arrays, for prediction without scikit-learn.

Loading a pickled scikit-learn model imports ``sklearn``, and through it ``scipy.stats``: ~1.5 s of every cold
``absites predict`` on two cores (bench/RESULTS.md, issue 14), to evaluate trees that are a few arrays.
:class:`Forest` keeps those arrays — per node the feature, threshold, side of missing values, children and leaf
value — and walks every tree for every row at once, one tree level per step, moving only the (row, tree) pairs
not yet at a leaf. It adds the trees' leaf values to the baseline in the order scikit-learn does, and maps the
sum through the same ``scipy.special.expit``, so the probabilities are scikit-learn's to the last bit (tested).
Per call it is 3–5× slower than scikit-learn's compiled traversal (bench/RESULTS.md); per process it saves the
import. Categorical splits are not supported (this project
fits none); :meth:`Forest.from_sklearn` refuses them and multi-class models. It reads the fitted model's
private ``_predictors`` and ``_baseline_prediction`` (scikit-learn is pinned in ``pyproject.toml``; the tests
compare the two on every install).

Shapes: ``X (n, features)`` → ``predict_proba`` ``(n, 2)``.
"""

from __future__ import annotations

import numpy as np


class Forest:
    """The trees of a binary gradient-boosting classifier, concatenated: node ``i`` of tree ``t`` is row
    ``roots[t] + i``, and ``left`` / ``right`` hold row numbers in the concatenation."""

    def __init__(self, baseline: float, roots: np.ndarray, feature: np.ndarray, threshold: np.ndarray,
                 missing_left: np.ndarray, left: np.ndarray, right: np.ndarray, is_leaf: np.ndarray,
                 value: np.ndarray, n_features: int):
        self.baseline = float(baseline)
        self.roots = np.asarray(roots, dtype=np.int64)
        self.feature = np.asarray(feature, dtype=np.int64)
        self.threshold = np.asarray(threshold, dtype=np.float64)
        self.missing_left = np.asarray(missing_left, dtype=bool)
        self.left = np.asarray(left, dtype=np.int64)
        self.right = np.asarray(right, dtype=np.int64)
        self.is_leaf = np.asarray(is_leaf, dtype=bool)
        self.value = np.asarray(value, dtype=np.float64)
        self.n_features = int(n_features)

    @classmethod
    def from_sklearn(cls, model) -> Forest:
        """The arrays of a fitted binary ``HistGradientBoostingClassifier`` (numerical features only)."""
        if getattr(model, "n_trees_per_iteration_", None) != 1:
            raise ValueError("Forest holds binary classifiers only (one tree per boosting iteration)")
        nodes = [predictors[0].nodes for predictors in model._predictors]
        if any(n["is_categorical"].any() for n in nodes):
            raise ValueError("Forest does not support categorical splits")
        sizes = np.array([len(n) for n in nodes], dtype=np.int64)
        roots = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        offset = np.repeat(roots, sizes)
        allnodes = np.concatenate(nodes)
        return cls(float(np.asarray(model._baseline_prediction).reshape(-1)[0]), roots, allnodes["feature_idx"],
                   allnodes["num_threshold"], allnodes["missing_go_to_left"].astype(bool),
                   allnodes["left"].astype(np.int64) + offset, allnodes["right"].astype(np.int64) + offset,
                   allnodes["is_leaf"].astype(bool), allnodes["value"], model.n_features_in_)

    @property
    def n_trees(self) -> int:
        return len(self.roots)

    def leaf_values(self, X: np.ndarray) -> np.ndarray:
        """``(n, trees)``: the value of the leaf each row reaches in each tree."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise ValueError(f"expected {self.n_features} features per row, got shape {X.shape}")
        n, trees = X.shape[0], self.n_trees
        node = np.tile(self.roots, n)  # (row, tree) pair i * trees + t, flat
        first = np.repeat(np.arange(n) * X.shape[1], trees)  # where each pair's row starts in X, flat
        flat = np.ascontiguousarray(X).ravel()
        active = np.flatnonzero(~self.is_leaf[node])  # only the pairs not yet at a leaf move down a level
        while active.size:
            at = node[active]
            x = flat[first[active] + self.feature[at]]
            # missing values follow the split's learned side; otherwise x <= threshold goes left (sklearn's rule)
            go_left = np.where(np.isnan(x), self.missing_left[at], x <= self.threshold[at])
            at = np.where(go_left, self.left[at], self.right[at])
            node[active] = at
            active = active[~self.is_leaf[at]]
        return self.value[node].reshape(n, trees)

    def raw_predict(self, X: np.ndarray) -> np.ndarray:
        """``(n,)`` the baseline plus every tree's leaf value, summed tree by tree as scikit-learn does."""
        values = self.leaf_values(X)
        raw = np.zeros(values.shape[0]) + self.baseline
        for t in range(values.shape[1]):
            raw += values[:, t]
        return raw

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """``(n, 2)``: P(class 0), P(class 1), as ``HistGradientBoostingClassifier.predict_proba``."""
        from scipy.special import expit

        proba = np.empty((np.asarray(X).shape[0], 2))
        proba[:, 1] = expit(self.raw_predict(X))
        proba[:, 0] = 1 - proba[:, 1]
        return proba
