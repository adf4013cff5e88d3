"""Every model absites knows, in one place: name -> class, kind, constructor schema, batch keys it reads.

Configs (``configs/model/<name>.yaml``), the CLI, training, benchmarks, prediction and the bench
scripts all read this table. Adding a model is one entry here plus its module::

    ModelSpec("mygnn", "graph", "absites.models.mygnn:MyGNN")

where ``MyGNN(in_dim, **params)`` is an ``nn.Module`` with a class attribute ``needs`` naming the batch
keys its ``forward`` takes (exactly its parameter names; see :data:`BATCH_KEYS`) and returning one logit
per residue. Importing this module imports no torch: classes are loaded when first built.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass

from absites.errors import ConfigError

# What a training batch offers a network (train.loop.collate); a model takes the subset it names in `needs`.
BATCH_KEYS = ("x", "pos", "edge_index", "edge_attr", "cross_edge_index", "is_antibody", "batch", "n_residues",
              "surfaces")
KINDS = ("baseline", "graph", "surface", "joint", "ensemble")
BALANCE_KEYS = ("init_scale", "lr_scale")  # per-layer init / learning-rate scales, any network (train.balance)


@dataclass(frozen=True)
class ModelSpec:
    name: str
    kind: str  # baseline | graph | surface | joint | ensemble
    target: str  # "module:Class"
    partner_free: bool = False  # scores each protein from that protein alone (one-protein prediction)
    fixed: tuple[tuple[str, object], ...] = ()  # constructor arguments set by the entry (e.g. the encoder)

    @property
    def is_baseline(self) -> bool:
        return self.kind == "baseline"

    @property
    def is_ensemble(self) -> bool:
        """Combines trained runs (absites.models.ensemble); nothing to build or train itself."""
        return self.kind == "ensemble"

    @property
    def needs_surfaces(self) -> bool:
        return self.kind in ("surface", "joint")

    def load(self) -> type:
        module, _, cls = self.target.partition(":")
        return getattr(importlib.import_module(module), cls)

    def allowed_params(self) -> tuple[str, ...]:
        """Constructor parameters a config may set (``params:``)."""
        sig = inspect.signature(self.load().__init__)
        skip = {"self", "in_dim", *dict(self.fixed)}
        names = [p.name for p in sig.parameters.values()
                 if p.name not in skip and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
        return tuple(names) + (() if self.is_baseline or self.is_ensemble else BALANCE_KEYS)

    def check_params(self, params: dict) -> None:
        """Raise ConfigError naming any parameter the model does not take."""
        unknown = sorted(set(params) - set(self.allowed_params()))
        if unknown:
            raise ConfigError(f"model {self.name}: unknown param(s) {', '.join(unknown)}; allowed: "
                              f"{', '.join(self.allowed_params())}")

    def needs(self) -> tuple[str, ...]:
        """Batch keys the network's ``forward`` reads (its declared ``needs``); () for baselines."""
        return () if self.is_baseline or self.is_ensemble else tuple(self.load().needs)

    def build(self, in_dim: int | None = None, **params):
        """An instance: networks get ``in_dim`` first; ``init_scale`` / ``lr_scale`` are not constructor
        arguments (training applies them)."""
        self.check_params(params)
        params = {k: v for k, v in params.items() if k not in BALANCE_KEYS}
        cls = self.load()
        return cls(**params) if self.is_baseline else cls(in_dim, **dict(self.fixed), **params)


REGISTRY: dict[str, ModelSpec] = {spec.name: spec for spec in (
    ModelSpec("random", "baseline", "absites.models.baselines:RandomBaseline", partner_free=True),
    ModelSpec("prior", "baseline", "absites.models.baselines:PositionalPrior", partner_free=True),
    ModelSpec("gbm", "baseline", "absites.models.baselines:SklearnBaseline", partner_free=True),
    ModelSpec("epmp", "graph", "absites.models.gnn:EPMP"),
    ModelSpec("egnn", "graph", "absites.models.gnn:EGNN"),
    ModelSpec("gatv2", "graph", "absites.models.gnn:GATv2Net"),
    ModelSpec("diffusionnet", "surface", "absites.models.surface:SurfaceNet", fixed=(("encoder", "diffusionnet"),)),
    ModelSpec("pointnet", "surface", "absites.models.surface:SurfaceNet", fixed=(("encoder", "pointnet"),)),
    ModelSpec("joint", "joint", "absites.models.joint:JointNet"),
    ModelSpec("ensemble", "ensemble", "absites.models.ensemble:Ensemble"),
)}


def get(name: str) -> ModelSpec:
    try:
        return REGISTRY[name]
    except KeyError:
        raise ConfigError(f"model: unknown name {name!r}; choose one of {', '.join(REGISTRY)}") from None


def names(kind: str | None = None) -> tuple[str, ...]:
    return tuple(n for n, s in REGISTRY.items() if kind is None or s.kind == kind)


def select_inputs(model, inputs: dict) -> dict:
    """The batch keys ``model`` declares in ``needs``, and nothing else.

    Raises:
        ConfigError: the batch lacks a key the model needs (a misspelt or missing input fails here, at
            the first batch, instead of being silently ignored).
    """
    needs = getattr(model, "needs", None)
    if needs is None:
        raise ConfigError(f"{type(model).__name__} declares no `needs` (the batch keys its forward takes)")
    missing = [k for k in needs if k not in inputs]
    if missing:
        raise ConfigError(f"{type(model).__name__} needs batch key(s) {', '.join(missing)}, which the batch "
                          f"lacks (it has {', '.join(inputs)}; known keys: {', '.join(BATCH_KEYS)})")
    return {k: inputs[k] for k in needs}
