"""``cosmoemu train CONFIG.yaml``: train an emulator from a data store, as a config says.

A config has five sections (``data``, ``emulator``, ``error_model``, ``training``, ``output``);
see ``src/cosmoemu/pretrained/configs/*.yaml``. It is parsed once, before any work, into frozen
dataclasses (:class:`TrainConfig`; the ``emulator`` and ``training`` sections become the
:class:`~cosmoemu.emulator.TrainSpec` that :func:`~cosmoemu.train_emulator` takes, with the
defaults stated there). A wrong field is named in the error with the allowed values.

Everything that can be checked is checked before any training: the fields (parsing), then,
once the store is open, the box against the store's design, the output path (writable, and
never inside the installed package unless ``--overwrite-package``).

Paths: relative paths in a training config (``data.store``, ``training.checkpoint``,
``output.path``) are relative to the working directory, like the ``output`` of a
``cosmoemu generate`` config: a store generated in the current directory is found by the same
name, and the model is written where the command runs (the shipped configs therefore write
``./lcdm_cmb_tt.npz`` + ``.json``, never over the shipped model).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import shlex
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._config import check_keys, check_writable_dir, get, load_yaml
from .._errors import ConfigError, unknown_name_message
from ._error_models import BEAM_FWHM_ARCMIN, F_SKY, NOISE_UK_ARCMIN, cmb_sigma
from ._io import save_emulator
from ._spec import (
    EmulatorSpec,
    FinetuneSpec,
    ModeWeight,
    PhaseSpec,
    SpecError,
    TrainSpec,
    _choice,
)
from ._train import TrainResult, train_emulator

__all__ = [
    "DataSpec",
    "ErrorModelSpec",
    "OutputSpec",
    "TrainConfig",
    "parse_train_config",
    "train_from_config",
    "error_model_sigma",
    "apply_mode_weights",
    "check_box_against_data",
]

log = logging.getLogger(__name__)

SECTIONS = ("data", "emulator", "error_model", "training", "output")
ERROR_MODELS = ("cmb", "relative", "absolute")


@dataclass(frozen=True)
class DataSpec:
    """Which samples to train on (config section ``data``).

    Attributes:
        store: the data store directory.
        quantity: the store's product to emulate (``tt``, ``derived``, ``pk_nonlin``...); it is
            recorded in the model as its quantity.
        outputs: keep only these entries of the last axis (by label), e.g. derived names.
        design_rows: ``[start, stop)`` ranges of design rows to use (the rest is held out).
        max_samples: use at most this many samples.
        box: the emulator's box ``{name: (low, high)}``; default the store's design box. It
            must lie inside the box the samples were drawn from (see
            :func:`check_box_against_data`).
        divide_by: emulate the quantity divided by ``"primordial"`` (A_s (k/0.05)^(n_s-1), for
            a P(k) with a k axis: the transfer part, which A_s and n_s do not change) or by
            another quantity of the store on the same axes (``pk_lin`` for the non-linear
            boost). The model records ``quantity/divide_by`` as its quantity.
        inputs: the emulator's inputs, a subset of the store's parameters (the others must not
            change the emulated quantity, e.g. omega_b, omega_cdm, h for the transfer part);
            rows repeating an input point are used once.
    """

    store: Path
    quantity: str
    outputs: tuple[str, ...] | None = None
    design_rows: tuple[tuple[int, int], ...] | None = None
    max_samples: int | None = None
    box: Mapping[str, tuple[float, float]] | None = None
    divide_by: str | None = None
    inputs: tuple[str, ...] | None = None


@dataclass(frozen=True)
class ErrorModelSpec:
    """The accuracy a spectrum needs (config section ``error_model``).

    Attributes:
        type: ``"cmb"`` (a survey's Gaussian error, :func:`~cosmoemu.emulator.cmb_sigma`),
            ``"relative"`` (``value`` times |output|) or ``"absolute"`` (``value``).
        spectrum: for ``cmb``: which spectrum (default: the quantity).
        f_sky, noise_uk_arcmin, beam_fwhm_arcmin: the survey, for ``cmb``.
        value: for ``relative``/``absolute``: one number, or one per entry of the last axis.
    """

    type: str
    spectrum: str | None = None
    f_sky: float = F_SKY
    noise_uk_arcmin: float = NOISE_UK_ARCMIN
    beam_fwhm_arcmin: float = BEAM_FWHM_ARCMIN
    value: float | tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        _choice(self.type, ERROR_MODELS, "type")
        if self.type in ("relative", "absolute"):
            if self.value is None:
                raise SpecError("value", f"is required for type '{self.type}'")
            if not np.all(np.asarray(self.value, float) > 0):
                raise SpecError("value", f"must be > 0, got {self.value}")

    def to_dict(self) -> dict[str, Any]:
        """The settings that apply to this type (saved with the model)."""
        keep = (("spectrum", "f_sky", "noise_uk_arcmin", "beam_fwhm_arcmin")
                if self.type == "cmb" else ("value",))
        d = {"type": self.type}
        for k in keep:
            v = getattr(self, k)
            if v is not None:
                d[k] = list(v) if isinstance(v, tuple) else v
        return d


@dataclass(frozen=True)
class OutputSpec:
    """Where the model goes (config section ``output``)."""

    path: Path
    description: str = ""


@dataclass(frozen=True)
class TrainConfig:
    """A parsed and checked training config.

    Attributes:
        raw: the YAML as read (saved in the model's provenance).
        base_dir: relative paths of the config are relative to this (the working
            directory for ``cosmoemu train``).
        data: what to train on.
        train: the emulator and the first optimisation phase (sections ``emulator`` and
            ``training``).
        error_model: the error model, or None.
        finetune: a second phase (``training.finetune``), or None.
        checkpoint: checkpoint stem (``training.checkpoint``), or None.
        output: where the model goes.
    """

    raw: Mapping[str, Any]
    base_dir: Path
    data: DataSpec
    train: TrainSpec
    error_model: ErrorModelSpec | None
    finetune: FinetuneSpec | None
    checkpoint: Path | None
    output: OutputSpec

    @property
    def emulator(self) -> EmulatorSpec:
        return self.train.emulator


def _resolve(base: Path, value: str) -> Path:
    p = Path(os.path.expanduser(value))
    return p if p.is_absolute() else base / p


@contextlib.contextmanager
def _section(where: str) -> Iterator[None]:
    """Report a :class:`SpecError` raised while building a spec as the config field."""
    try:
        yield
    except SpecError as err:
        field = err.field
        if field.startswith(("emulator.", "training.")):  # a cross-section check
            raise ConfigError(field, err.message) from err
        raise ConfigError(f"{where}.{field}" if field else where, err.message) from err


def _given(cfg: Mapping[str, Any], types: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The fields present in ``cfg``, type-checked (absent ones take the spec's default)."""
    return {k: get(cfg, k, t, where=where) for k, t in types.items() if k in cfg}


def _parse_data(cfg: Mapping[str, Any], base: Path) -> DataSpec:
    data = get(cfg, "data", dict)
    check_keys(data, ("store", "quantity", "outputs", "design_rows", "max_samples", "box",
                      "divide_by", "inputs"), "data")
    ranges = get(data, "design_rows", list, None, where="data")
    if ranges is not None:
        ok = all(
            isinstance(r, list)
            and len(r) == 2
            and all(isinstance(v, int) for v in r)
            and 0 <= r[0] < r[1]
            for r in ranges
        )
        if not ranges or not ok:
            raise ConfigError(
                "data.design_rows",
                "must be a list of [start, stop) pairs of "
                f"design-row indices with 0 <= start < stop, got {ranges}",
            )
    n_max = get(data, "max_samples", int, None, where="data")
    if n_max is not None and n_max < 10:
        raise ConfigError("data.max_samples", f"must be >= 10, got {n_max}")
    box = _parse_box(get(data, "box", dict, None, where="data"))
    outputs = get(data, "outputs", list, None, where="data")
    inputs = get(data, "inputs", list, None, where="data")
    return DataSpec(
        divide_by=get(data, "divide_by", str, None, where="data"),
        inputs=None if inputs is None else tuple(str(i) for i in inputs),
        store=_resolve(base, get(data, "store", str, where="data")),
        quantity=get(data, "quantity", str, where="data"),
        outputs=None if outputs is None else tuple(str(o) for o in outputs),
        design_rows=None if ranges is None else tuple((int(a), int(b)) for a, b in ranges),
        max_samples=n_max,
        box=box,
    )


def _parse_box(box: Mapping[str, Any] | None) -> dict[str, tuple[float, float]] | None:
    """``data.box`` as ``{name: (low, high)}``, each a pair of finite numbers with low < high."""
    if box is None:
        return None
    if not box:
        raise ConfigError("data.box", "is empty: give {name: [low, high]} for every parameter, "
                                      "or leave it out to use the store's design box")
    out = {}
    for name, value in box.items():
        field = f"data.box.{name}"
        ok = (isinstance(value, (list, tuple)) and len(value) == 2
              and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value))
        if not ok:
            raise ConfigError(field, f"must be [low, high] (two numbers), got {value!r}")
        lo, hi = float(value[0]), float(value[1])
        if not (np.isfinite(lo) and np.isfinite(hi)):
            raise ConfigError(field, f"must be finite, got [{lo}, {hi}]")
        if not lo < hi:
            raise ConfigError(field, f"must have low < high, got [{lo}, {hi}]"
                              + (" (inverted: swap them)" if lo > hi else ""))
        out[str(name)] = (lo, hi)
    return out


#: without a recorded design box, a box edge may pass the samples' extreme by this many mean
#: gaps, range / n (a uniform design of n points leaves a larger gap with probability e^-10)
BOX_SLACK_GAPS = 10.0


def check_box_against_data(
    box: Mapping[str, tuple[float, float]],
    names: Sequence[str],
    x: np.ndarray,
    design_box: Mapping[str, tuple[float, float]] | None,
    field: str = "data.box",
) -> None:
    """Refuse a box that claims validity where the training data never reach.

    With the store's design box (``cosmoemu generate`` records it), ``box`` must lie inside it;
    without one, each edge may lie beyond the samples' extreme value by at most
    ``BOX_SLACK_GAPS`` times the mean gap ``range / n``. A box narrower than the data is fine.
    A wider box is refused rather than shrunk: the box is the promise the model makes, and a
    silently different promise from the one written in the config would go unnoticed.

    Args:
        box: ``{name: (low, high)}`` for exactly ``names``.
        names: parameter names, the columns of ``x``.
        x: the store's inputs ``(n, n_params)`` (all its samples: they show the design).
        design_box: the box the design drew from, or None.
        field: the config field, for the message.

    Raises:
        ConfigError: an unknown or missing name, or an edge beyond the data.
    """
    for name in box:
        if name not in names:
            raise ConfigError(f"{field}.{name}", unknown_name_message("parameter", name, names))
    missing = [n for n in names if n not in box]
    if missing:
        raise ConfigError(field, f"no [low, high] for {', '.join(missing)} (the store's "
                                 f"parameters are {', '.join(names)})")
    n = len(x)
    for i, name in enumerate(names):
        lo, hi = box[name]
        if design_box is not None and name in design_box:
            dlo, dhi = design_box[name]
            if lo < dlo or hi > dhi:
                raise ConfigError(
                    f"{field}.{name}",
                    f"[{lo:g}, {hi:g}] reaches beyond the store's design box [{dlo:g}, {dhi:g}]: "
                    "the model would claim validity where it never saw a sample. Narrow it to "
                    "within the design box, or leave data.box out to use the design box."
                )
            continue
        xmin, xmax = float(x[:, i].min()), float(x[:, i].max())
        slack = BOX_SLACK_GAPS * (xmax - xmin) / max(n, 1)
        if lo < xmin - slack or hi > xmax + slack:
            raise ConfigError(
                f"{field}.{name}",
                f"[{lo:g}, {hi:g}] reaches beyond the training samples, which span "
                f"[{xmin:g}, {xmax:g}] ({n} samples; the store records no design box): the "
                "model would claim validity where it never saw a sample. Narrow it to the "
                "range the samples were drawn from."
            )


_EMULATOR_TYPES = {
    "kind": str, "n_components": int, "pca_tol": float, "log10": bool, "factor": dict,
    "feature_scale": str, "mode_weights": list, "hidden": list, "activation": str,
    "input_degree": int, "region": (str, dict),
}
_PHASE_TYPES = {"solver": str, "loss": str, "stages": list, "optimizer": str,
                "weight_decay": float, "dtype": str}
_RUN_TYPES = {"val_fraction": float, "seed": int, "checkpoint_every": int}


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    try:
        return bool(np.isfinite(float(value)))
    except (TypeError, ValueError):
        return False


def _parse_phase(cfg: Mapping[str, Any], where: str, cls: type[PhaseSpec],
                 allowed: Sequence[str]) -> PhaseSpec:
    kw = _given({k: v for k, v in cfg.items() if k in allowed}, _PHASE_TYPES, where)
    for i, st in enumerate(kw.get("stages", ())):
        if not isinstance(st, dict):
            raise ConfigError(f"{where}.stages[{i}]", f"must be a mapping, got {st!r}")
        check_keys(st, ("learning_rate", "batch_size", "max_epochs", "patience", "decay",
                        "final"), f"{where}.stages[{i}]")
        for key in ("learning_rate", "final"):  # YAML reads 1e-3 (no dot) as a string
            if key in st and not _is_number(st[key]):
                raise ConfigError(f"{where}.stages[{i}].{key}",
                                  f"must be a number (e.g. 1.0e-3), got {st[key]!r}")
        for key in ("batch_size", "max_epochs", "patience"):
            get(st, key, int, None, where=f"{where}.stages[{i}]")
    with _section(where):
        return cls(**kw)


def parse_train_config(cfg: Mapping[str, Any], base_dir: str | os.PathLike = ".") -> TrainConfig:
    """Check a training config and parse it into a :class:`TrainConfig`; relative paths are
    relative to ``base_dir`` (default: the working directory).

    Raises:
        ConfigError: naming the field, what arrived and what is allowed.
    """
    base = Path(base_dir)
    check_keys(cfg, SECTIONS)
    data = _parse_data(cfg, base)

    emu_cfg = get(cfg, "emulator", dict)
    check_keys(emu_cfg, tuple(_EMULATOR_TYPES), "emulator")
    emu_kw = _given(emu_cfg, _EMULATOR_TYPES, "emulator")
    if "factor" in emu_kw:
        check_keys(emu_kw["factor"], ("linear", "log", "const"), "emulator.factor")
    if isinstance(emu_kw.get("region"), dict):
        check_keys(emu_kw["region"], ("center", "covariance", "radius"), "emulator.region")
    for i, mw in enumerate(emu_kw.get("mode_weights", ())):
        where = f"emulator.mode_weights[{i}]"
        if not isinstance(mw, dict):
            raise ConfigError(
                where, f"must be a mapping {{modes: [low, high], weight: w}}, got {mw!r}"
            )
        check_keys(mw, ("modes", "weight"), where)
        rng = get(mw, "modes", list, where=where)
        get(mw, "weight", float, where=where)
        if len(rng) != 2:
            raise ConfigError(where, f"needs modes: [low, high], got modes={rng}")
    with _section("emulator"):
        emulator = EmulatorSpec(**emu_kw)

    em = get(cfg, "error_model", dict, None)
    error_model = None
    if em is not None:
        check_keys(em, tuple(f.name for f in dataclasses.fields(ErrorModelSpec)), "error_model")
        em_kw = _given(em, {"type": str, "spectrum": str, "f_sky": float,
                            "noise_uk_arcmin": float, "beam_fwhm_arcmin": float,
                            "value": (float, list)}, "error_model")
        get(em, "type", str, where="error_model")  # required
        if isinstance(em_kw.get("value"), list):
            em_kw["value"] = tuple(float(v) for v in em_kw["value"])
        with _section("error_model"):
            error_model = ErrorModelSpec(**em_kw)
    if emulator.feature_scale == "error_model" and error_model is None:
        raise ConfigError("emulator.feature_scale", "'error_model' needs an error_model section")

    tr = get(cfg, "training", dict, {})
    check_keys(tr, (*_PHASE_TYPES, *_RUN_TYPES, "checkpoint", "finetune"), "training")
    phase = _parse_phase(tr, "training", PhaseSpec, tuple(_PHASE_TYPES))
    if phase.solver == "adam" and not emulator.hidden:
        raise ConfigError("emulator.hidden", "a network without hidden layers needs "
                          "training.solver: lstsq")
    if phase.solver == "lstsq" and emulator.hidden:
        raise ConfigError("emulator.hidden", "training.solver 'lstsq' fits a network "
                          f"without hidden layers: set hidden: [], got {list(emulator.hidden)}")
    ft_cfg = get(tr, "finetune", dict, None, where="training")
    finetune = None
    if ft_cfg is not None:
        if phase.solver == "lstsq":
            raise ConfigError("training", "solver 'lstsq' fits the mse loss once: no finetune")
        allowed = ("loss", "stages", "optimizer", "weight_decay", "dtype")
        check_keys(ft_cfg, allowed, "training.finetune")
        if not ft_cfg.get("stages"):
            raise ConfigError("training.finetune.stages", "needs at least one stage")
        finetune = _parse_phase(ft_cfg, "training.finetune", FinetuneSpec, allowed)
    for where, ph in (("training", phase), ("training.finetune", finetune)):
        if ph is not None and ph.loss == "weighted" and error_model is None:
            raise ConfigError(f"{where}.loss", "'weighted' needs an error_model section")
    with _section("training"):
        train = TrainSpec(emulator, phase, **_given(tr, _RUN_TYPES, "training"))
    ckpt = tr.get("checkpoint")

    out = get(cfg, "output", dict)
    check_keys(out, ("path", "description"), "output")
    return TrainConfig(
        raw=dict(cfg),
        base_dir=base,
        data=data,
        train=train,
        error_model=error_model,
        finetune=finetune,
        checkpoint=None if ckpt is None else _resolve(base, str(ckpt)),
        output=OutputSpec(_resolve(base, get(out, "path", str, where="output")),
                          **_given(out, {"description": str}, "output")),
    )


def error_model_sigma(
    em: ErrorModelSpec | Mapping[str, Any],
    quantity: str,
    y: np.ndarray,
    modes: np.ndarray,
    load=None,
) -> np.ndarray:
    """Per-sample sigma ``y.shape`` of an error model for outputs ``y``.

    Args:
        em: the error model (or the ``error_model`` section as a mapping).
        quantity: the emulated quantity (``tt``, ``te``, ...).
        y: outputs ``(n, n_modes)`` (``(n, ..., n_last)`` for ``relative``/``absolute``).
        modes: ell values for ``cmb``.
        load: callable ``name -> (n, n_modes)`` for the other spectra ``te`` needs.
    """
    if isinstance(em, Mapping):
        em = ErrorModelSpec(**{k: tuple(v) if isinstance(v, list) else v for k, v in em.items()})
    if em.type == "relative":
        return np.abs(y) * np.asarray(em.value, float)
    if em.type == "absolute":
        return np.broadcast_to(np.asarray(em.value, float), y.shape).copy()
    if y.ndim != 2:
        raise ConfigError("error_model.type", f"'cmb' is for spectra (n, n_ell); '{quantity}' "
                          f"has shape {y.shape[1:]} per sample: use relative or absolute")
    spectrum = em.spectrum or quantity
    cls = {spectrum: y}
    if spectrum == "te":
        cls.update(tt=load("tt"), ee=load("ee"))
    return cmb_sigma(spectrum, modes, cls, f_sky=em.f_sky, noise_uk_arcmin=em.noise_uk_arcmin,
                     beam_fwhm_arcmin=em.beam_fwhm_arcmin)


def train_from_config(
    config: str | os.PathLike | Mapping[str, Any],
    *,
    progress: bool = True,
    store: str | os.PathLike | None = None,
    overwrite_package: bool = False,
) -> TrainResult:
    """Train and save the emulator a config describes (the ``cosmoemu train`` command).

    Everything is checked before training: the fields, the quantity and outputs against the
    store, the box against the store's design box (or its samples), and the output path.

    Args:
        config: path of a YAML file, or a dict; relative paths in it are relative to the
            working directory.
        progress: show progress bars.
        store: a data store to use instead of the config's ``data.store``.
        overwrite_package: allow ``output.path`` inside the installed cosmoemu package (to
            replace a shipped model on purpose); refused otherwise.

    Returns:
        The :class:`~cosmoemu.emulator.TrainResult`; the model is written to ``output.path``.

    Raises:
        ConfigError: naming the field, before any training.
    """
    from ..data import open_store

    raw = dict(config) if isinstance(config, Mapping) else load_yaml(config)
    if isinstance(raw.get("emulator"), Mapping) and raw["emulator"].get("kind") == "azimuthal":
        from ._azimuthal import train_azimuthal_from_config

        return train_azimuthal_from_config(raw, store=None if store is None else str(store),
                                           overwrite_package=overwrite_package)
    cfg = parse_train_config(raw, Path.cwd())
    _check_output(cfg.output.path, overwrite_package)
    data = cfg.data if store is None else dataclasses.replace(cfg.data, store=Path(store))
    ds = open_store(data.store)
    q = data.quantity
    if q not in ds.quantities:
        raise ConfigError("data.quantity", unknown_name_message("quantity", q, ds.quantities))
    rows = np.arange(len(ds))
    if data.design_rows is not None:
        dr = ds.design_rows
        keep = np.zeros(len(ds), bool)
        for lo, hi in data.design_rows:
            keep |= (dr >= lo) & (dr < hi)
        rows = rows[keep]
    if data.max_samples is not None:
        rows = rows[: data.max_samples]
    if rows.size < 10:
        raise ConfigError("data", f"only {rows.size} samples selected from '{data.store}'")
    x = ds.params(rows)
    design_box = ds.box
    names = tuple(ds.param_names)
    all_x = ds.params()
    n_rows = int(rows.size)  # rows considered; with data.inputs, fewer distinct points train
    if data.inputs is not None:
        x, rows, names, all_x = _input_subset(data.inputs, names, x, rows, all_x)
    box = data.box if data.box is not None else design_box
    if box is not None and data.box is None and data.inputs is not None:
        box = {n: box[n] for n in names}
    if box is None:
        raise ConfigError(
            "data.box", f"the store '{data.store}' records no design box (it has no "
            "manifest.json): give data.box: {name: [low, high]} for every parameter, the box "
            "the samples were drawn from (outside it the model refuses to predict)")
    # the design's range shows in all the store's samples, not only the selected rows
    check_box_against_data(box, names, all_x, design_box)
    y = ds.load(q, rows)
    axes = list(ds.axes(q))
    if data.divide_by is not None:
        y = _divide(y, data.divide_by, ds, q, rows, axes)
    if data.outputs is not None:
        names = [str(m) for m in axes[-1][1]]
        for o in data.outputs:
            if o not in names:
                raise ConfigError("data.outputs", unknown_name_message("output", o, names))
        cols = [names.index(o) for o in data.outputs]
        y = y[..., cols]
        axes[-1] = (axes[-1][0], np.asarray(data.outputs), axes[-1][2])
    modes = np.asarray(axes[-1][1])
    _warn_if_replacing_a_different_model(cfg.output.path, names, axes)

    emu = cfg.emulator
    sigma = None
    if cfg.error_model is not None:
        sigma = error_model_sigma(cfg.error_model, q, y, modes, lambda name: ds.load(name, rows))
    feature_scale: Any = "std"
    if emu.feature_scale == "error_model":
        feature_scale = _feature_scale_from_sigma(x, y, sigma, emu, names)
    if emu.mode_weights:
        feature_scale = apply_mode_weights(feature_scale, y, modes, emu.mode_weights)
        if sigma is not None:  # the weighted loss asks for the same emphasis
            sigma = sigma * apply_mode_weights(np.ones(y.shape[1:]), y, modes, emu.mode_weights)
    spec = cfg.train.replace(feature_scale=feature_scale, region=_region(emu.region, ds))
    provenance = {
        "config": cfg.raw,
        "command": " ".join(shlex.quote(a) for a in sys.argv) if sys.argv else "",
        "store": str(Path(data.store).resolve()),
        "store_fingerprint": ds.fingerprint(),
        "design_rows": None if data.design_rows is None else [list(r) for r in data.design_rows],
        "max_samples": data.max_samples,
        "n_samples": int(rows.size),
        "n_rows": n_rows,
    }
    common = {
        "parameters": names,
        "axes": [(name, values, units) for name, values, units in axes],
        "quantity": q if data.divide_by is None else f"{q}/{data.divide_by}",
        "units": ds.units(q) if data.divide_by is None else "",
        "box": box,
        "sigma": sigma,
        "progress": progress,
    }
    result = train_emulator(x, y, spec, checkpoint=cfg.checkpoint, provenance=provenance,
                            **common)
    if cfg.finetune is not None:
        first_phase = result.emulator.metadata["training"]
        first_phase.pop("provenance", None)
        result = train_emulator(
            x,
            y,
            dataclasses.replace(spec, phase=cfg.finetune),
            init=result.emulator,
            checkpoint=None if cfg.checkpoint is None else Path(f"{cfg.checkpoint}_finetune"),
            provenance={**provenance, "first_phase": first_phase},
            **common,
        )
    files = save_emulator(
        result.emulator,
        cfg.output.path,
        description=cfg.output.description,
        error_model=None if cfg.error_model is None else cfg.error_model.to_dict(),
    )
    result.summary["files"] = [str(f) for f in files]
    return result


def _input_subset(inputs: Sequence[str], names: tuple[str, ...], x: np.ndarray,
                  rows: np.ndarray, all_x: np.ndarray) -> tuple[np.ndarray, ...]:
    """Keep the ``inputs`` columns, and the first row of each repeated input point."""
    unknown = [n for n in inputs if n not in names]
    if unknown:
        raise ConfigError("data.inputs", unknown_name_message("parameter", unknown[0], names))
    cols = [names.index(n) for n in inputs]
    x = x[:, cols]
    _, first = np.unique(x, axis=0, return_index=True)
    first = np.sort(first)
    log.info("data.inputs: %d distinct input points in %d rows", first.size, rows.size)
    # the box check's slack counts distinct points, not rows repeating them
    return x[first], rows[first], tuple(inputs), np.unique(all_x[:, cols], axis=0)


def _divide(y: np.ndarray, by: str, ds: Any, q: str, rows: np.ndarray,
            axes: Sequence[tuple[str, np.ndarray, str]]) -> np.ndarray:
    """``y`` divided by the primordial spectrum or by another quantity of the store."""
    if by == "primordial":
        names = list(ds.param_names)
        if axes[-1][0] != "k" or "n_s" not in names or "ln10^{10}A_s" not in names:
            raise ConfigError("data.divide_by", "'primordial' needs a quantity with a k axis "
                              "[1/Mpc] and n_s and ln10^{10}A_s among the store's parameters")
        theta = ds.params(rows)
        n_s = theta[:, names.index("n_s")]
        a_s = np.exp(theta[:, names.index("ln10^{10}A_s")]) * 1e-10
        k = np.asarray(axes[-1][1], np.float64)
        expand = (slice(None),) + (None,) * (y.ndim - 1)
        return y / (a_s[expand] * (k / 0.05) ** (n_s - 1.0)[expand])
    if by not in ds.quantities or by == q:
        raise ConfigError("data.divide_by", unknown_name_message(
            "quantity", by, ["primordial", *[n for n in ds.quantities if n != q]]))
    if ds.shape(by) != ds.shape(q):
        raise ConfigError("data.divide_by", f"'{by}' has shape {ds.shape(by)}, '{q}' "
                                            f"{ds.shape(q)}: they must share their axes")
    return y / ds.load(by, rows)


def _package_dir() -> Path:
    from .. import __file__ as init_file

    return Path(init_file).resolve().parent


def _check_output(path: Path, overwrite_package: bool) -> None:
    """The model's directory is writable, and outside the installed package unless asked."""
    target = Path(path).resolve()
    pkg = _package_dir()
    if target.is_relative_to(pkg) and not overwrite_package:
        raise ConfigError(
            "output.path",
            f"'{path}' lies inside the installed cosmoemu package ({pkg}): writing there "
            "replaces a shipped model. Give a path outside it (relative paths are relative "
            "to the working directory), or pass --overwrite-package (overwrite_package=True) "
            "to replace the shipped model on purpose.")
    check_writable_dir(target.parent, "output.path")


def _warn_if_replacing_a_different_model(path: Path, names: Sequence[str],
                                         axes: Sequence[tuple[str, Any, str]]) -> None:
    """Say so before training when ``path`` holds a model with other inputs or outputs (e.g.
    a shipped model to ell = 2508 about to be replaced by one trained to ell = 1000)."""
    from ._io import model_paths, read_emulator

    if not all(f.is_file() for f in model_paths(path)):
        return
    try:
        old = read_emulator(path)
    except ValueError:
        return
    new_axes = [(str(a[0]), len(a[1])) for a in axes]
    old_axes = [(a.name, len(a)) for a in old.axes]
    if tuple(old.parameters) != tuple(names) or old_axes != new_axes:
        log.warning(
            "'%s' holds a model of %s -> %s; it will be replaced by one of %s -> %s",
            path, ", ".join(old.parameters), ", ".join(f"{n} ({k})" for n, k in old_axes),
            ", ".join(names), ", ".join(f"{n} ({k})" for n, k in new_axes))


def _region(value: Any, ds: Any) -> Mapping[str, Any] | None:
    """The emulator's validity ellipsoid from the config: explicit, or the store's design."""
    if value is None or isinstance(value, Mapping):
        return value
    recipe = (ds.manifest or {}).get("design", {}).get("recipe", [])
    if len(recipe) != 1 or recipe[0].get("kind") != "ellipsoid" or "covariance" not in recipe[0]:
        raise ConfigError("emulator.region", "'design' needs a store made by one ellipsoid design "
                          "with a covariance; give {center, covariance, radius} instead")
    r = recipe[0]
    return {"center": r["fiducial"], "covariance": r["covariance"], "radius": r["radius"]}


def apply_mode_weights(
    feature_scale: str | np.ndarray,
    y: np.ndarray,
    modes: np.ndarray,
    weights: Sequence[ModeWeight | Mapping[str, Any]],
) -> np.ndarray:
    """Divide the feature scale where the last axis lies in ``[low, high]`` by ``weight``.

    A weight w > 1 asks for w times smaller errors there: those outputs count w^2 times more in
    the loss and PCA keeps more components for them. Use it where a max-over-modes metric is
    dominated by a few modes (e.g. the reionisation bump of C_ell^EE at ell < 30).

    Args:
        feature_scale: ``"std"`` (the standard deviation of each output over ``y``) or scales
            of shape ``y.shape[1:]``.
        y: outputs ``(n, ..., n_modes)``.
        modes: labels of the last axis, ``(n_modes,)``.
        weights: :class:`~cosmoemu.emulator.ModeWeight` or ``{modes: [low, high], weight}``.

    Returns:
        Scales of shape ``y.shape[1:]``.
    """
    if isinstance(feature_scale, str):  # "std": standard deviation of each output
        feature_scale = np.std(y, axis=0)
        feature_scale = np.where(feature_scale > 0, feature_scale, 1.0)
    scale = np.array(np.broadcast_to(feature_scale, y.shape[1:]), np.float64)
    labels = np.asarray(modes, np.float64)
    for mw in weights:
        if not isinstance(mw, ModeWeight):
            mw = ModeWeight(float(mw["modes"][0]), float(mw["modes"][1]), float(mw["weight"]))
        scale[..., (labels >= mw.low) & (labels <= mw.high)] /= mw.weight
    return scale


def _feature_scale_from_sigma(x, y, sigma, emu: EmulatorSpec, names) -> np.ndarray:
    """Mean sigma in the emulated space (after the factor and log10): the PCA metric."""
    from ._transforms import ParamFactor

    f = emu.factor
    z, s = y.reshape(len(y), -1), sigma.reshape(len(y), -1)
    if f is not None:
        pf = (f if isinstance(f, ParamFactor) else
              ParamFactor.from_names(names, f.get("linear"), f.get("log"), f.get("const", 0.0)))
        z, s = pf.encode(z, x), pf.encode(s, x)
    if emu.log10:
        out = np.mean(s / (np.abs(z) * np.log(10.0)), axis=0)
    else:
        out = np.mean(s, axis=0)
    return out.reshape(y.shape[1:])
