"""Emulators: networks, PCA, transforms, training, the Emulator object and its file format."""

from .._errors import OutOfBoxError
from .._fitting import TrainingError
from ._axes import Axis
from ._cosmopower import RestrictedUnpickler, UnsafePickleError, import_cosmopower
from ._emulator import POLICIES, Emulator, make_emulator
from ._io import (
    SCHEMA_VERSION,
    ModelFileError,
    add_manifest_checksum,
    read_emulator,
    save_emulator,
)
from ._network import (
    ACTIVATIONS,
    MLP,
    alsing_activation,
    init_mlp,
    n_polynomial_features,
    polynomial_features,
)
from ._pca import PCAFit, fit_pca, fit_pca_streaming
from ._registry import list_emulators, load_emulator
from ._spec import (
    DEFAULT_STAGES,
    EmulatorSpec,
    FinetuneSpec,
    PhaseSpec,
    SpecError,
    Stage,
    TrainSpec,
)
from ._train import TrainResult, train_emulator
from ._transforms import PCA, Affine, ParamFactor, Pow10, Transform

__all__ = [
    "polynomial_features",
    "n_polynomial_features",
    "ACTIVATIONS",
    "DEFAULT_STAGES",
    "MLP",
    "PCA",
    "POLICIES",
    "SCHEMA_VERSION",
    "add_manifest_checksum",
    "Affine",
    "Axis",
    "Emulator",
    "EmulatorSpec",
    "FinetuneSpec",
    "ModelFileError",
    "OutOfBoxError",
    "PCAFit",
    "ParamFactor",
    "PhaseSpec",
    "RestrictedUnpickler",
    "SpecError",
    "Pow10",
    "Stage",
    "TrainResult",
    "TrainSpec",
    "Transform",
    "TrainingError",
    "UnsafePickleError",
    "alsing_activation",
    "fit_pca",
    "fit_pca_streaming",
    "import_cosmopower",
    "init_mlp",
    "list_emulators",
    "load_emulator",
    "make_emulator",
    "read_emulator",
    "save_emulator",
    "train_emulator",
]
