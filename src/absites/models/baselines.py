"""Baselines a skeptical reviewer asks for, with the same output as the networks (a probability per residue).

* :class:`RandomBaseline` — uniform scores.
* :class:`PositionalPrior` — paratope: binding frequency of each numbered
  antibody position (e.g. ``H31A``) in the training set (Laplace-smoothed,
  unseen positions get the chain's rate; residues outside the variable domain
  0); epitope: binding frequency per relative-SASA bin (a surface-exposure prior).
* :class:`SklearnBaseline` — histogram gradient boosting on each residue's
  features plus the mean features of its graph neighbours, one model per
  protein (each trained on all of its residues). With ``templates`` set, the
  epitope model also reads the known epitopes of homologous antigens in its
  training set (:mod:`absites.models.templates`), and their neighbour means (``template_relatives``: training
  complexes skip the templates of their antibody's close variants); with
  ``shape`` set, it also reads shape descriptors of the residue in its own protein at 8–24 Å
  (contact numbers, half-sphere exposure, protrusion; :mod:`absites.graph.shape`); with ``context`` set, its
  glycan-shield and Cα secondary-structure descriptors (:mod:`absites.graph.context`); with ``partner``
  set, the epitope model also reads a summary of the antibody's CDRs and its products with the
  residue's own charge, hydrophobicity and aromaticity (:mod:`absites.graph.partner`); with
  ``paratope_shape`` set, the paratope model reads the antibody residues' shape descriptors (computed on the
  antibody alone, so an antibody without its antigen is scored the same).
"""

from __future__ import annotations

import zlib

from collections import defaultdict

import numpy as np

from absites.metrics import task_mask
from absites.graph.build import ResidueGraph
from absites.graph.context import context_features
from absites.graph.partner import partner_features
from absites.graph.shape import shape_features
from absites.models.templates import TemplateLibrary
from absites.models.trees import Forest


class RandomBaseline:
    name = "random"

    def __init__(self, seed: int = 0):
        self.seed = seed

    def fit(self, graphs: list[ResidueGraph]) -> RandomBaseline:
        return self

    def predict(self, graph: ResidueGraph) -> np.ndarray:
        # crc32, not hash(): str hashes change from process to process (PYTHONHASHSEED)
        rng = np.random.default_rng([self.seed, zlib.crc32(graph.complex_id.encode())])
        return rng.random(graph.num_nodes)


class PositionalPrior:
    name = "prior"

    def __init__(self, rsa_bins: int = 10, smoothing: float = 1.0):
        self.edges = np.linspace(0, 1, rsa_bins + 1)[1:-1]
        self.smoothing = smoothing

    def fit(self, graphs: list[ResidueGraph]) -> PositionalPrior:
        counts: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
        chain_rate: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
        bins = np.zeros((len(self.edges) + 1, 2))
        for g in graphs:
            para = g.is_antibody.astype(bool) & (g.numbering != "")
            for pos, y in zip(g.numbering[para], g.y[para]):
                counts[pos][0] += y
                counts[pos][1] += 1
                chain_rate[pos[:1]][0] += y
                chain_rate[pos[:1]][1] += 1
            epi = task_mask(g, "epitope")
            b = np.digitize(g.rsa[epi], self.edges)
            np.add.at(bins[:, 0], b, g.y[epi])
            np.add.at(bins[:, 1], b, 1)
        a = self.smoothing
        self.chain_rate = {k: (v[0] + a) / (v[1] + 2 * a) for k, v in chain_rate.items()}
        self.position_rate = {k: (v[0] + a * self.chain_rate[k[:1]]) / (v[1] + a) for k, v in counts.items()}
        self.bin_rate = (bins[:, 0] + a * 0.05) / (bins[:, 1] + a)
        return self

    def predict(self, graph: ResidueGraph) -> np.ndarray:
        prob = np.zeros(graph.num_nodes)
        ab = graph.is_antibody.astype(bool)
        for i in np.flatnonzero(ab):
            pos = graph.numbering[i]  # "" outside the variable domain: never seen binding
            prob[i] = self.position_rate.get(pos, self.chain_rate.get(pos[:1], 0.0) if pos else 0.0)
        prob[~ab] = self.bin_rate[np.digitize(graph.rsa[~ab], self.edges)]
        return prob


def neighbourhood_features(graph: ResidueGraph, x: np.ndarray | None = None) -> np.ndarray:
    """Residue features ``x`` (default: the record's), their mean over intra-protein neighbours, and the
    neighbour count. Shape ``(R, 2F + 1)``."""
    x = graph.x if x is None else x
    src, dst = graph.edge_index
    n = graph.num_nodes
    deg = np.bincount(dst, minlength=n).astype(np.float32)
    agg = np.zeros_like(x)
    np.add.at(agg, dst, x[src])
    return np.concatenate([x, agg / np.maximum(deg, 1)[:, None], deg[:, None] / 15.0], axis=1)


class SklearnBaseline:
    name = "gbm"

    def __init__(self, seed: int = 0, max_iter: int = 200, templates: float | None = None, shape: bool = False,
                 partner: bool = False, context: bool = False, template_relatives: float | None = None,
                 paratope_shape: bool = False):
        """``templates``: minimum antigen identity of a template (e.g. 0.5); None reads no templates.
        ``shape``: the epitope model also reads the residue's shape descriptors (:mod:`absites.graph.shape`).
        ``partner``: the epitope model also reads the antibody's descriptors (:mod:`absites.graph.partner`).
        ``context``: the epitope model also reads the residue's glycan-shield and secondary-structure
        descriptors (:mod:`absites.graph.context`).
        ``template_relatives``: training complexes (leave one out) also skip templates whose antibody is at least
        this CDR-identical to theirs (:class:`absites.models.templates.TemplateLibrary`).
        ``paratope_shape``: the paratope model also reads the residue's shape descriptors in the antibody (H+L)."""
        self.seed, self.max_iter, self.templates, self.shape = seed, max_iter, templates, bool(shape)
        self.paratope_shape = bool(paratope_shape)
        self.template_relatives = template_relatives
        self.partner, self.context = bool(partner), bool(context)
        self.library: TemplateLibrary | None = None

    def _features(self, graph: ResidueGraph, task: str, template_features: np.ndarray | None = None,
                  plain: np.ndarray | None = None) -> np.ndarray:
        """What ``task``'s model reads: residue features and neighbour means (``plain``, when already
        computed); the epitope model with the template features appended when it has a library, then
        the shape descriptors when ``shape`` is set, the context descriptors when ``context`` is and the partner
        descriptors when ``partner`` is; the paratope model's with the shape descriptors when ``paratope_shape``
        is set."""
        if task != "epitope":
            out = neighbourhood_features(graph) if plain is None else plain
            return np.concatenate([out, shape_features(graph, ("antibody",))], axis=1) if self.paratope_shape else out
        if self.library is not None:
            if template_features is None:
                template_features = self.library.features(graph)
            out = neighbourhood_features(graph, np.concatenate([graph.x, template_features], axis=1))
        else:
            out = neighbourhood_features(graph) if plain is None else plain
        extra = ([shape_features(graph)] if self.shape else []) + ([context_features(graph)] if self.context else [])
        extra += [partner_features(graph)] if self.partner else []
        return np.concatenate([out, *extra], axis=1) if extra else out

    def fit(self, graphs: list[ResidueGraph]) -> SklearnBaseline:
        from sklearn.ensemble import HistGradientBoostingClassifier

        self.models = {}
        def rows(g, task):  # the antibody model sees every antibody residue, not only CDRs
            return g.is_antibody.astype(bool) if task == "paratope" else task_mask(g, task)

        loo = [None] * len(graphs)
        if self.templates is not None:  # each training complex scored from the others (leave one out)
            self.library = TemplateLibrary(graphs, self.templates, self.template_relatives)
            loo = self.library.training_features(graphs)
        for task in ("paratope", "epitope"):
            X = np.concatenate([self._features(g, task, f)[rows(g, task)] for g, f in zip(graphs, loo)])
            y = np.concatenate([g.y[rows(g, task)] for g in graphs]).astype(int)
            model = HistGradientBoostingClassifier(max_iter=self.max_iter, learning_rate=0.05,
                                                   class_weight="balanced", random_state=self.seed)
            self.models[task] = model.fit(X, y)
        return self

    def predict(self, graph: ResidueGraph) -> np.ndarray:
        ab = graph.is_antibody.astype(bool)
        prob = np.zeros(graph.num_nodes)
        plain = neighbourhood_features(graph)  # both tasks read it unless the epitope model reads templates
        for task, mask in (("paratope", ab), ("epitope", ~ab)):
            if mask.any():  # one protein alone has no residue of the other side
                prob[mask] = self.models[task].predict_proba(self._features(graph, task, plain=plain)[mask])[:, 1]
        return prob

    def notes(self, graph: ResidueGraph) -> list[str]:
        """One line on the epitope templates behind this graph's scores (none without templates)."""
        return self.library.notes(graph) if self.library is not None else []

    def __getstate__(self):
        """Pickled with each task's boosting model as a numpy :class:`Forest` (same probabilities): loading a
        saved run then imports no scikit-learn, ~1.5 s of a cold ``absites predict`` on two cores."""
        state = dict(self.__dict__)
        if "models" in state:
            state["models"] = {task: m if isinstance(m, Forest) else Forest.from_sklearn(m)
                               for task, m in state["models"].items()}
        return state

    def __setstate__(self, state):  # models pickled before templates existed read no templates
        state.setdefault("templates", None)
        state.setdefault("library", None)
        state.setdefault("shape", False)
        state.setdefault("partner", False)
        state.setdefault("context", False)
        state.setdefault("template_relatives", None)
        state.setdefault("paratope_shape", False)
        self.__dict__.update(state)
