"""What to train, as frozen dataclasses: each default is stated once, here.

:func:`~cosmoemu.train_emulator` takes a :class:`TrainSpec` (or its fields as keywords), and
``cosmoemu train`` parses a YAML config into the same objects (``emulator`` section ->
:class:`EmulatorSpec`, ``training`` -> :class:`PhaseSpec` and the :class:`TrainSpec` fields,
``training.finetune`` -> :class:`FinetuneSpec`). Every spec checks itself when built and
raises :class:`SpecError` naming the field; the config reader prefixes the YAML section.

Example::

    spec = TrainSpec(EmulatorSpec(kind="pca", n_components=32, log10=True),
                     PhaseSpec(stages=(Stage(1e-3, 64), Stage(1e-4, 256))), seed=1)
    train_emulator(x, y, spec, parameters=names, box=box)
    train_emulator(x, y, parameters=names, box=box, kind="pca", n_components=32,
                   log10=True, stages=(Stage(1e-3, 64), Stage(1e-4, 256)), seed=1)  # same
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import optax

from .._errors import did_you_mean
from ._network import ACTIVATIONS

__all__ = [
    "SpecError",
    "Stage",
    "DEFAULT_STAGES",
    "ModeWeight",
    "EmulatorSpec",
    "PhaseSpec",
    "FinetuneSpec",
    "TrainSpec",
    "KINDS",
    "LOSSES",
    "SOLVERS",
    "OPTIMIZERS",
    "DTYPES",
]

KINDS: tuple[str, ...] = ("dense", "pca")
LOSSES: tuple[str, ...] = ("mse", "weighted")
SOLVERS: tuple[str, ...] = ("adam", "lstsq")
OPTIMIZERS: tuple[str, ...] = ("adam", "adamw")
DTYPES: tuple[str, ...] = ("float32", "float64")
DECAYS: tuple[str, ...] = ("cosine",)


class SpecError(ValueError):
    """A training setting is invalid.

    Args:
        field: the setting's name (``"kind"``, ``"stages[1]"``; ``""`` for a whole spec).
        message: what is wrong and what is allowed.
    """

    def __init__(self, field: str, message: str) -> None:
        self.field, self.message = field, message
        super().__init__(f"{field}: {message}" if field else message)


def _choice(value: Any, allowed: Sequence[str], name: str) -> None:
    if value not in allowed:
        raise SpecError(name, f"got {value!r}{did_you_mean(str(value), allowed)}; allowed "
                              f"values: {', '.join(allowed)}")


def _set(obj: Any, name: str, value: Any) -> None:
    object.__setattr__(obj, name, value)  # normalising a field of a frozen dataclass


@dataclass(frozen=True)
class Stage:
    """One stage of a staged schedule: a learning-rate schedule, a batch size, a stopping rule.

    Attributes:
        learning_rate: the stage's learning rate (its start, with ``decay``).
        batch_size: mini-batch size (capped at the training-set size).
        max_epochs: hard cap on the number of epochs in the stage.
        patience: stop the stage after this many epochs without a better validation loss.
        decay: ``None`` (constant) or ``"cosine"``: cosine decay, step by step, to
            ``learning_rate * final`` at ``max_epochs`` (a smooth schedule: use one stage with a
            large patience).
        final: final learning-rate fraction for ``decay="cosine"``.
    """

    learning_rate: float
    batch_size: int
    max_epochs: int = 1000
    patience: int = 50
    decay: str | None = None
    final: float = 0.01

    def __post_init__(self) -> None:
        for name in ("learning_rate", "final"):
            try:
                _set(self, name, float(getattr(self, name)))
            except (TypeError, ValueError) as err:
                raise SpecError(name, f"must be a number, got {getattr(self, name)!r}") from err
        if not self.learning_rate > 0:
            raise SpecError("learning_rate", f"must be > 0, got {self.learning_rate}")
        for name in ("batch_size", "max_epochs", "patience"):
            v = getattr(self, name)
            if not (isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 1):
                raise SpecError(name, f"must be an integer >= 1, got {v!r}")
        if self.decay is not None:
            _choice(self.decay, DECAYS, "decay")
        if not 0 <= self.final <= 1:
            raise SpecError("final", f"must be in [0, 1], got {self.final}")

    def schedule(self, steps_per_epoch: int) -> optax.Schedule:
        """The learning rate as an optax schedule of the optimiser step within the stage."""
        if self.decay == "cosine":
            return optax.cosine_decay_schedule(
                self.learning_rate, max(1, (self.max_epochs - 1) * steps_per_epoch), self.final
            )
        return optax.constant_schedule(self.learning_rate)


DEFAULT_STAGES: tuple[Stage, ...] = (
    Stage(1e-3, 32, 300, 30),
    Stage(5e-4, 64, 300, 30),
    Stage(2e-4, 128, 300, 30),
    Stage(1e-4, 256, 300, 30),
    Stage(3e-5, 512, 300, 30),
)


def _stages(value: Any) -> tuple[Stage, ...]:
    out = []
    for i, s in enumerate(value):
        if isinstance(s, Stage):
            out.append(s)
            continue
        if not isinstance(s, Mapping):
            raise SpecError(f"stages[{i}]", f"must be a Stage or a mapping, got {s!r}")
        try:
            out.append(Stage(**dict(s)))
        except SpecError as err:
            raise SpecError(f"stages[{i}]", f"{err.field}: {err.message}") from err
        except TypeError as err:
            raise SpecError(f"stages[{i}]", str(err)) from err
    return tuple(out)


@dataclass(frozen=True)
class ModeWeight:
    """Ask for ``weight`` times smaller errors where the last axis lies in ``[low, high]``."""

    low: float
    high: float
    weight: float

    def __post_init__(self) -> None:
        if not (self.low <= self.high and self.weight > 0):
            raise SpecError("", f"needs modes: [low, high] with low <= high and weight > 0, "
                                f"got modes=[{self.low}, {self.high}], weight={self.weight}")


@dataclass(frozen=True)
class EmulatorSpec:
    """The emulator: output transforms and network (config section ``emulator``).

    Attributes:
        kind: ``"dense"`` (the network outputs every value) or ``"pca"``.
        n_components: PCA components (``kind="pca"``), or
        pca_tol: the fewest components whose max reconstruction error on the training rows is
            below this, in feature units (standard deviations, or those of ``feature_scale``).
        log10: emulate ``log10(outputs)`` (outputs must be positive).
        factor: a known factor of the parameters divided out first,
            ``{"linear": {name: a}, "log": {name: b}, "const": c}``, or a ``ParamFactor``.
        feature_scale: ``"std"`` (standardise each output) or an array of scales, one per
            output (e.g. the error model's sigma in the emulated space). ``cosmoemu train``
            also accepts ``"error_model"`` (computed from the config's error model).
        mode_weights: :class:`ModeWeight` emphasis (``cosmoemu train`` applies it).
        hidden: hidden-layer widths.
        activation: ``"alsing"`` (trainable, Alsing et al. 2020), ``"tanh"``, ``"silu"``,
            ``"gelu"`` or ``"relu"``.
        input_degree: feed the network the monomials of degree 1..d of the standardised
            inputs (1: the inputs themselves). With ``hidden=()`` the emulator is a polynomial.
        region: an ellipsoid of validity ``{"center", "covariance", "radius"}`` saved with the
            model; ``cosmoemu train`` also accepts ``"design"`` (the store's ellipsoid).
    """

    kind: str = "dense"
    n_components: int | None = None
    pca_tol: float | None = None
    log10: bool = False
    factor: Any = None
    feature_scale: Any = "std"
    mode_weights: tuple[ModeWeight, ...] = ()
    hidden: tuple[int, ...] = (256, 256, 256, 256)
    activation: str = "alsing"
    input_degree: int = 1
    region: Any = None

    def __post_init__(self) -> None:
        _choice(self.kind, KINDS, "kind")
        if self.kind == "pca" and (self.n_components is None) == (self.pca_tol is None):
            raise SpecError("", "kind 'pca' needs exactly one of n_components or pca_tol")
        if self.n_components is not None and not (
            isinstance(self.n_components, (int, np.integer)) and self.n_components >= 1
        ):
            raise SpecError("n_components", f"must be an integer >= 1, got {self.n_components!r}")
        if self.pca_tol is not None and not self.pca_tol > 0:
            raise SpecError("pca_tol", f"must be > 0, got {self.pca_tol}")
        _set(self, "log10", bool(self.log10))
        _choice(self.activation, tuple(ACTIVATIONS), "activation")
        hidden = tuple(self.hidden)
        if not all(isinstance(h, (int, np.integer)) and h > 0 for h in hidden):
            raise SpecError("hidden", f"must be a list of positive widths, got {list(hidden)}")
        _set(self, "hidden", tuple(int(h) for h in hidden))
        d = self.input_degree
        if not (isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d >= 1):
            raise SpecError("input_degree", f"must be an integer >= 1, got {d!r}")
        fs = self.feature_scale
        if isinstance(fs, str):
            _choice(fs, ("std", "error_model"), "feature_scale")
        elif fs is not None:
            a = np.asarray(fs, np.float64)
            if not np.all(np.isfinite(a)) or np.any(a <= 0):
                raise SpecError("feature_scale", "must be finite and > 0 for every output")
        else:
            _set(self, "feature_scale", "std")
        if isinstance(self.factor, Mapping):
            unknown = [k for k in self.factor if k not in ("linear", "log", "const")]
            if unknown:
                raise SpecError(f"factor.{unknown[0]}", "unknown field"
                                f"{did_you_mean(str(unknown[0]), ('linear', 'log', 'const'))}; "
                                "allowed fields: linear, log, const")
        mw = []
        for i, w in enumerate(self.mode_weights):
            if isinstance(w, ModeWeight):
                mw.append(w)
                continue
            try:
                if isinstance(w, Mapping):
                    lo, hi = w["modes"]
                    mw.append(ModeWeight(float(lo), float(hi), float(w["weight"])))
                else:
                    mw.append(ModeWeight(*map(float, w)))
            except SpecError as err:
                raise SpecError(f"mode_weights[{i}]", err.message) from err
            except (KeyError, TypeError, ValueError) as err:
                raise SpecError(f"mode_weights[{i}]", "must be a mapping {modes: [low, high], "
                                f"weight: w}}, got {w!r}") from err
        _set(self, "mode_weights", tuple(mw))
        r = self.region
        if r is not None and r != "design":
            if not isinstance(r, Mapping):
                raise SpecError("region", "must be 'design' (the store's one ellipsoid design) "
                                f"or a mapping {{center, covariance, radius}}, got {r!r}")
            if set(r) != {"center", "covariance", "radius"}:
                raise SpecError("region", f"must have the fields center, covariance, radius; "
                                          f"got {sorted(r)}")


@dataclass(frozen=True)
class PhaseSpec:
    """One optimisation phase (config section ``training``).

    Attributes:
        solver: ``"adam"`` (the staged schedule), or ``"lstsq"``: the exact least-squares fit
            of a network without hidden layers (``hidden=()``, ``loss="mse"``), in float64;
            ``stages`` are then unused and the validation split only measures the fit.
        loss: ``"mse"`` on the network's standardised targets, or ``"weighted"``: mean of
            ``((prediction - outputs) / sigma)**2`` in physical units.
        stages: the schedule: :class:`Stage` objects (or mappings with their fields).
        optimizer: ``"adam"`` or ``"adamw"`` (with ``weight_decay``).
        weight_decay: AdamW decoupled weight decay.
        dtype: ``"float32"`` or ``"float64"`` (training precision).
    """

    solver: str = "adam"
    loss: str = "mse"
    stages: tuple[Stage, ...] = DEFAULT_STAGES
    optimizer: str = "adam"
    weight_decay: float = 1e-5
    dtype: str = "float32"

    def __post_init__(self) -> None:
        _choice(self.solver, SOLVERS, "solver")
        _choice(self.loss, LOSSES, "loss")
        _choice(self.optimizer, OPTIMIZERS, "optimizer")
        _choice(self.dtype, DTYPES, "dtype")
        if not self.weight_decay >= 0:
            raise SpecError("weight_decay", f"must be >= 0, got {self.weight_decay}")
        _set(self, "weight_decay", float(self.weight_decay))
        _set(self, "stages", _stages(self.stages))
        if not self.stages and self.solver == "adam":
            raise SpecError("stages", "needs at least one stage")
        if self.solver == "lstsq" and self.loss != "mse":
            raise SpecError("solver", f"'lstsq' fits the mse loss, got loss={self.loss!r}")


@dataclass(frozen=True)
class FinetuneSpec(PhaseSpec):
    """A second phase from the first one's emulator (config section ``training.finetune``);
    by default on the weighted loss, which the first phase's MSE approximates."""

    loss: str = "weighted"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.solver != "adam":
            raise SpecError("solver", "a fine-tuning phase uses adam")


@dataclass(frozen=True)
class TrainSpec:
    """Everything :func:`~cosmoemu.train_emulator` needs besides the data.

    Attributes:
        emulator: transforms and network.
        phase: the optimisation.
        val_fraction: fraction of rows drawn (from ``seed``) for validation.
        seed: seeds the split, the initial weights and the batch order; recorded.
        checkpoint_every: epochs between checkpoints (when a checkpoint path is given).
    """

    emulator: EmulatorSpec = field(default_factory=EmulatorSpec)
    phase: PhaseSpec = field(default_factory=PhaseSpec)
    val_fraction: float = 0.1
    seed: int = 0
    checkpoint_every: int = 25

    def __post_init__(self) -> None:
        if not 0.0 < self.val_fraction < 1.0:
            raise SpecError("val_fraction", f"must be in (0, 1), got {self.val_fraction}")
        if not (isinstance(self.seed, (int, np.integer)) and not isinstance(self.seed, bool)):
            raise SpecError("seed", f"must be an integer, got {self.seed!r}")
        if not self.checkpoint_every >= 1:
            raise SpecError("checkpoint_every", f"must be >= 1, got {self.checkpoint_every}")
        if self.phase.solver == "lstsq" and self.emulator.hidden:
            raise SpecError("hidden", "solver 'lstsq' fits a network without hidden layers "
                            f"(hidden=()); got hidden={self.emulator.hidden}")

    def replace(self, **fields: Any) -> TrainSpec:
        """A copy with fields of this spec or of its :class:`EmulatorSpec` and
        :class:`PhaseSpec` replaced, by name (``seed=1``, ``kind="pca"``, ``stages=...``).

        Raises:
            TypeError: a name that is no field of the three (with a suggestion).
        """
        own = {f.name for f in dataclasses.fields(self)} - {"emulator", "phase"}
        emu_f = {f.name for f in dataclasses.fields(EmulatorSpec)}
        phase_f = {f.name for f in dataclasses.fields(PhaseSpec)}
        groups: dict[str, dict[str, Any]] = {"own": {}, "emulator": {}, "phase": {}}
        for name, value in fields.items():
            where = ("own" if name in own else "emulator" if name in emu_f
                     else "phase" if name in phase_f else None)
            if where is None:
                allowed = sorted(own | emu_f | phase_f)
                raise TypeError(f"unknown training setting {name!r}"
                                f"{did_you_mean(name, allowed)}; allowed: {', '.join(allowed)}")
            groups[where][name] = value
        emu = (dataclasses.replace(self.emulator, **groups["emulator"])
               if groups["emulator"] else self.emulator)
        phase = (dataclasses.replace(self.phase, **groups["phase"])
                 if groups["phase"] else self.phase)
        return dataclasses.replace(self, emulator=emu, phase=phase, **groups["own"])

    def record(self) -> dict[str, Any]:
        """JSON-able record of the settings (saved with the model)."""
        emu = self.emulator
        fs = emu.feature_scale
        return {
            "kind": emu.kind,
            "log10": emu.log10,
            "feature_scale": fs if isinstance(fs, str) else "array",
            "solver": self.phase.solver,
            "loss": self.phase.loss,
            "stages": [dataclasses.asdict(s) for s in self.phase.stages]
            if self.phase.solver == "adam" else [],
            "optimizer": self.phase.optimizer,
            "weight_decay": self.phase.weight_decay,
            "seed": int(self.seed),
            "dtype": self.phase.dtype,
        }
