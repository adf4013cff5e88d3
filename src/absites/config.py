"""Configuration: YAML groups under ``configs/`` mapped onto validated dataclasses.

Groups mirror the pipeline: ``configs/data/*.yaml`` -> :class:`DataConfig`,
``configs/features/*.yaml`` -> :class:`FeatureConfig`,
``configs/surface/*.yaml`` -> :class:`SurfaceConfig`, ``configs/model/*.yaml``
-> :class:`ModelConfig`, ``configs/training/*.yaml`` -> :class:`TrainingConfig`. Unknown keys and invalid
values raise :class:`ConfigError` naming the file and key.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from absites import registry
from absites.errors import ConfigError

PACKAGE_DIR = Path(__file__).resolve().parent
_CHECKOUT = PACKAGE_DIR.parents[1]
# Where outputs go by default (results/, runs/, cache/, data/): the source checkout when running from one
# (an editable install), else the working directory (a package installed with pip install .).
PROJECT_ROOT = _CHECKOUT if (_CHECKOUT / "pyproject.toml").is_file() else Path.cwd()
# Configs ship inside the package (importable from any install); ``configs/`` at the checkout's top is a link.
CONFIG_DIR = PACKAGE_DIR / "configs"
DATA_ROOT_ENV = "ABSITES_DATA_ROOT"
DEFAULT_MODEL_DIR = PACKAGE_DIR / "models" / "default"  # the shipped models, one folder per task
ENSEMBLE_FILE = "ensemble.json"
RUN_FILES = ("baseline.joblib", "best.pt", ENSEMBLE_FILE)  # what makes a directory a trained run
CDR_DEFINITION_NAMES = ("chothia", "north", "imgt")  # the keys of structure.numbering.CDR_DEFINITIONS
CACHE_DIR_ENV = "ABSITES_CACHE_DIR"


def run_file(run_dir: str | Path) -> Path | None:
    """The file that makes ``run_dir`` a trained run (a baseline, a network or an ensemble), else None."""
    return next((Path(run_dir) / name for name in RUN_FILES if (Path(run_dir) / name).exists()), None)


@dataclass(frozen=True)
class FeatureConfig:
    """Everything that changes a per-complex record (all of it goes into the cache key)."""

    contact_cutoff_angstrom: float = 4.5
    cdr_definition: str = "chothia"
    cdr_flank: int = 2
    knn_k: int = 15
    knn_radius_angstrom: float = 10.0
    edge_coordinates: str = "ca"  # ca | centroid
    cross_edges: str = "cdr_bipartite"  # cdr_bipartite | radius | none
    cross_radius_angstrom: float = 10.0
    sasa_points: int = 100
    # cross_edges: radius picks antibody-antigen pairs by their distance in the bound pose: it gives the
    # interface away, so it is refused unless this is set (analysis only; benchmarks refuse it).
    allow_bound_pose: bool = False

    def __post_init__(self) -> None:

        checks = [
            (self.contact_cutoff_angstrom > 0, "contact_cutoff_angstrom must be > 0"),
            (self.cdr_definition in CDR_DEFINITION_NAMES, f"cdr_definition must be one of {list(CDR_DEFINITION_NAMES)}"),
            (self.cdr_flank >= 0, "cdr_flank must be >= 0"),
            (self.knn_k >= 1, "knn_k must be >= 1"),
            (self.knn_radius_angstrom > 0, "knn_radius_angstrom must be > 0"),
            (self.edge_coordinates in ("ca", "centroid"), "edge_coordinates must be 'ca' or 'centroid'"),
            (self.cross_edges in ("cdr_bipartite", "radius", "none"),
             "cross_edges must be 'cdr_bipartite', 'radius' or 'none'"),
            (self.cross_radius_angstrom > 0, "cross_radius_angstrom must be > 0"),
            (self.sasa_points >= 10, "sasa_points must be >= 10"),
            (self.cross_edges != "radius" or self.allow_bound_pose,
             "cross_edges: radius reads the bound pose (pairs chosen by their distance across the interface); "
             "set allow_bound_pose: true to use it for analysis, never for prediction or benchmarks"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(f"features: {message}")

    def as_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        if not self.allow_bound_pose:  # records made before the flag existed keep their cache keys
            del out["allow_bound_pose"]
        return out


@dataclass(frozen=True)
class SurfaceConfig:
    """O-GEP surface settings (all of them go into the surface cache key)."""

    grid_angstrom: float = 1.0
    probe_angstrom: float = 1.4
    target_vertices: int | None = None  # quadric decimation target; None keeps the 1-A mesh
    marching_step: int = 1  # marching cubes every n-th voxel of the distance field (2: ~4x fewer vertices, closed)
    k_eig: int = 64
    hks_scales: int = 16
    wks_energies: int = 16
    operators: str = "mesh"  # mesh | point_cloud: which Laplacian / gradients DiffusionNet gets

    def __post_init__(self) -> None:
        checks = [
            (self.operators in ("mesh", "point_cloud"), "operators must be mesh or point_cloud"),
            (0.2 <= self.grid_angstrom <= 3.0, "grid_angstrom must be in [0.2, 3.0]"),
            (self.probe_angstrom >= 0, "probe_angstrom must be >= 0"),
            (self.target_vertices is None or self.target_vertices >= 200, "target_vertices must be >= 200 or null"),
            (self.k_eig >= 4, "k_eig must be >= 4"),
            (1 <= self.marching_step <= 4, "marching_step must be in [1, 4]"),
            (self.hks_scales >= 1 and self.wks_energies >= 1, "hks_scales and wks_energies must be >= 1"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(f"surface: {message}")

    def as_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        if d["marching_step"] == 1:  # added later: left out at its old behaviour so cache keys stay the same
            del d["marching_step"]
        return d

    def cache_tag(self) -> str:
        """Eight hex digits naming these settings (manifest file names)."""
        import hashlib
        import json

        return hashlib.sha1(json.dumps(self.as_dict(), sort_keys=True).encode()).hexdigest()[:8]


@dataclass(frozen=True)
class TrainingConfig:
    """Optimisation settings (configs/training/*.yaml)."""

    epochs: int = 60
    lr: float = 1e-3
    weight_decay: float = 1e-4
    batch_size: int = 4
    patience: int = 10
    seed: int = 42
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    amp: bool = True  # bfloat16 autocast on CUDA; ignored on CPU
    scheduler: str = "cosine"  # cosine | constant
    antibody_weight: float = 1.0
    antigen_weight: float = 2.0
    pos_weight: str = "per_complex"  # per_complex | none
    grad_clip: float = 1.0
    paratope_residues: str = "all"  # all antibody residues in the loss, or only CDR (+flank) residues
    threads: int = 0  # CPU threads for torch: 0 = every core this process may use (affinity, cgroup quota)
    compile: bool = False  # torch.compile the model (CUDA only; falls back to eager if compiling fails)
    # Robust training: one extra copy of every training complex per σ (Å) with Gaussian noise on every atom
    # (labels of the clean structure; absites.data.augment), for models that hold on unbound / modelled inputs.
    coord_noise: tuple[float, ...] = ()
    # Networks: residue features plus the epitope templates of the training set (absites.models.templates:
    # antigen chains at least this identical; leave-one-out while training); None reads none.
    templates: float | None = None
    # With templates: training complexes also skip templates whose antibody's CDRs are at least this identical to
    # theirs (variants of the same antibody, which new antibodies seldom have; absites.models.templates); None
    # skips only identical antibodies.
    template_relatives: float | None = None
    # Networks: residue features plus each residue's shape descriptors in its own protein (absites.graph.shape:
    # contact numbers at 8-24 A, half-sphere exposure, protrusion, patch RSA), after any template features.
    shape_features: bool = False
    # Mix each antigen residue's score with its neighbours' (absites.models.smoothing), width and weight chosen
    # on validation epitope AUPRC, off when validation does not gain; recorded in the run and applied at predict.
    epitope_smoothing: bool = False
    # Calibrate epitope probabilities to the antigen's size (absites.models.calibration: logistic regression of the
    # labels on logit p and log antigen length, fitted on validation after any smoothing); recorded and applied at
    # predict. Never reorders one antigen's residues; puts scores of antigens of different sizes on one scale.
    epitope_calibration: bool = False
    # Weight antigen scores by the distance from the best-scoring patch (absites.models.focus: radius and floor
    # chosen on validation epitope AUPRC after any smoothing, before the calibration; off when validation does
    # not gain); recorded and applied at predict.
    epitope_focus: bool = False
    # Which epoch's weights the run keeps: "joint" = the best mean of val paratope and epitope AUPRC (one state);
    # "per_task" = the best val paratope AUPRC for antibody residues and, separately, the best val epitope AUPRC
    # for antigen residues (absites.models.per_task); patience counts epochs in which neither task improved.
    selection: str = "joint"

    def __post_init__(self) -> None:
        noise = self.coord_noise if isinstance(self.coord_noise, (list, tuple)) else (self.coord_noise,)
        try:
            object.__setattr__(self, "coord_noise", tuple(float(s) for s in noise))
        except (TypeError, ValueError):
            raise ConfigError(f"training: coord_noise must be a list of σ in Å, not {self.coord_noise!r}") from None
        checks = [
            (all(0 < s <= 5 for s in self.coord_noise), "coord_noise: every σ must lie in (0, 5] Å"),
            (self.templates is None or 0 < self.templates <= 1, "templates: a minimum identity in (0, 1], or null"),
            (self.template_relatives is None or 0 < self.template_relatives <= 1,
             "template_relatives: a CDR identity in (0, 1], or null"),
            (self.threads >= 0, "threads must be >= 0 (0: all available cores)"),
            (self.epochs >= 1 and self.batch_size >= 1 and self.patience >= 1, "epochs, batch_size, patience >= 1"),
            (self.lr > 0 and self.weight_decay >= 0, "lr > 0 and weight_decay >= 0"),
            (self.scheduler in ("cosine", "constant"), "scheduler must be cosine or constant"),
            (self.pos_weight in ("per_complex", "none"), "pos_weight must be per_complex or none"),
            (self.paratope_residues in ("all", "cdr"), "paratope_residues must be all or cdr"),
            (self.selection in ("joint", "per_task"), "selection must be joint or per_task"),
            (self.device == "auto" or self.device.split(":")[0] in ("cpu", "cuda"), "device: auto, cpu or cuda[:N]"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(f"training: {message}")


@dataclass(frozen=True)
class ModelConfig:
    """Which model and its constructor parameters (configs/model/*.yaml: ``name`` + ``params``)."""

    name: str
    params: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        registry.get(self.name)  # unknown names fail here
        if not isinstance(self.params, dict):
            raise ConfigError("model: params must be a mapping")

    @property
    def spec(self) -> registry.ModelSpec:
        return registry.get(self.name)

    @property
    def is_baseline(self) -> bool:
        return self.spec.is_baseline

    @property
    def needs_surfaces(self) -> bool:
        return self.spec.needs_surfaces


@dataclass(frozen=True)
class DataConfig:
    """Where structures, the index and the cache live."""

    root: str | None = None  # None: $ABSITES_DATA_ROOT, else ../shared/data when present, else data/
    index: str = "index.csv"
    cache_dir: str | None = None  # None: $ABSITES_CACHE_DIR, else <project>/cache
    primary_only: bool = True

    def data_root(self) -> Path:
        return resolve_data_root(self.root)

    def cache_path(self) -> Path:
        if self.cache_dir:
            return Path(self.cache_dir).expanduser()
        env = os.environ.get(CACHE_DIR_ENV)
        return Path(env).expanduser() if env else PROJECT_ROOT / "cache"


def resolve_data_root(configured: str | os.PathLike | None = None) -> Path:
    """The data root: explicit value, then ``$ABSITES_DATA_ROOT``, then ``../shared/data``, then ``data/``.

    ``../shared/data`` is looked for beside the project checkout and beside the
    current directory.
    """
    if configured:
        return Path(configured).expanduser().resolve()
    env = os.environ.get(DATA_ROOT_ENV)
    if env:
        return Path(env).expanduser().resolve()
    for base in (PROJECT_ROOT, Path.cwd()):
        shared = (base / ".." / "shared" / "data").resolve()
        if (shared / "index.csv").exists():
            return shared
    return (PROJECT_ROOT / "data").resolve()


def _from_mapping(cls, values: dict[str, Any], source: str):
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ConfigError(f"{source}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(names))}")
    try:
        return cls(**values)
    except TypeError as exc:
        raise ConfigError(f"{source}: {exc}") from None


def load_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping")
    return data


def _group_path(group: str, name_or_path: str | Path) -> Path:
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") or p.exists():
        return p
    return CONFIG_DIR / group / f"{name_or_path}.yaml"


def _load_group(group: str, cls, name_or_path: str | Path, overrides: dict[str, Any]):
    """Read ``configs/<group>/<name>.yaml`` (or a path), apply non-None overrides, validate into ``cls``."""
    path = _group_path(group, name_or_path)
    values = load_yaml(path)
    values.update({k: v for k, v in overrides.items() if v is not None})
    return _from_mapping(cls, values, str(path))


def load_feature_config(name_or_path: str | Path = "default", **overrides: Any) -> FeatureConfig:
    return _load_group("features", FeatureConfig, name_or_path, overrides)


def load_surface_config(name_or_path: str | Path = "default", **overrides: Any) -> SurfaceConfig:
    return _load_group("surface", SurfaceConfig, name_or_path, overrides)


def load_training_config(name_or_path: str | Path = "default", **overrides: Any) -> TrainingConfig:
    return _load_group("training", TrainingConfig, name_or_path, overrides)


def load_model_config(name_or_path: str | Path, params: dict[str, Any] | None = None) -> ModelConfig:
    """The named model config; ``params`` (a benchmark row's, a shipped member's) go over its own and are
    checked against what the model takes."""
    model = _load_group("model", ModelConfig, name_or_path, {})
    if not params:
        return model
    model.spec.check_params({**model.params, **params})
    return dataclasses.replace(model, params={**model.params, **params})


def load_data_config(name_or_path: str | Path = "default", **overrides: Any) -> DataConfig:
    return _load_group("data", DataConfig, name_or_path, overrides)
