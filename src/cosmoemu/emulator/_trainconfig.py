"""``cosmoemu train CONFIG.yaml``: train an emulator from a data store, as a config says.

A config has five sections (``data``, ``emulator``, ``error_model``, ``training``, ``output``);
see ``examples/train_*.yaml``. Every field is checked before any work, and a wrong one is named
in the error with the allowed values.
"""

from __future__ import annotations

import logging
import os
import shlex
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._config import check_choice, check_keys, get, load_yaml
from .._errors import ConfigError, unknown_name_message
from ._error_models import cmb_sigma
from ._io import save_emulator
from ._loop import Stage
from ._network import ACTIVATIONS
from ._train import DEFAULT_STAGES, KINDS, LOSSES, TrainResult, train_emulator

__all__ = ["TrainConfig", "parse_train_config", "train_from_config", "error_model_sigma"]

log = logging.getLogger(__name__)

SECTIONS = ("data", "emulator", "error_model", "training", "output")
ERROR_MODELS = ("cmb", "relative", "absolute")


@dataclass
class TrainConfig:
    """A parsed and checked training config (``raw`` is the YAML as read)."""

    raw: dict[str, Any]
    store: Path
    quantity: str
    outputs: list[str] | None
    design_rows: list[list[int]] | None
    max_samples: int | None
    box: dict[str, tuple[float, float]] | None
    emulator: dict[str, Any]
    error_model: dict[str, Any] | None
    training: dict[str, Any]
    output: Path
    description: str
    base_dir: Path


def _resolve(base: Path, value: str) -> Path:
    p = Path(os.path.expanduser(value))
    return p if p.is_absolute() else base / p


def parse_train_config(cfg: Mapping[str, Any], base_dir: str | os.PathLike = ".") -> TrainConfig:
    """Check a training config; relative paths are relative to ``base_dir``.

    Raises:
        ConfigError: naming the field, what arrived and what is allowed.
    """
    base = Path(base_dir)
    check_keys(cfg, SECTIONS)
    data = get(cfg, "data", dict)
    check_keys(data, ("store", "quantity", "outputs", "design_rows", "max_samples", "box"), "data")
    store = _resolve(base, get(data, "store", str, where="data"))
    quantity = get(data, "quantity", str, where="data")
    outputs = get(data, "outputs", list, None, where="data")
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
    box = get(data, "box", dict, None, where="data")
    if box is not None:
        box = {str(k): tuple(float(x) for x in v) for k, v in box.items()}

    emu = dict(get(cfg, "emulator", dict))
    allowed = (
        "kind",
        "n_components",
        "pca_tol",
        "log10",
        "factor",
        "feature_scale",
        "hidden",
        "activation",
        "mode_weights",
        "input_degree",
        "region",
    )
    check_keys(emu, allowed, "emulator")
    emu.setdefault("kind", "dense")
    check_choice(emu["kind"], KINDS, "emulator.kind")
    if emu["kind"] == "pca" and ("n_components" in emu) == ("pca_tol" in emu):
        raise ConfigError("emulator", "kind 'pca' needs exactly one of n_components or pca_tol")
    check_choice(emu.get("activation", "alsing"), ACTIVATIONS, "emulator.activation")
    fs = emu.get("feature_scale", "std")
    check_choice(fs, ("std", "error_model"), "emulator.feature_scale")
    hidden = get(emu, "hidden", list, [256, 256, 256, 256], where="emulator")
    if not all(isinstance(h, int) and h > 0 for h in hidden):
        raise ConfigError("emulator.hidden", f"must be a list of positive widths, got {hidden}")
    degree = get(emu, "input_degree", int, 1, where="emulator")
    if degree < 1:
        raise ConfigError("emulator.input_degree", f"must be an integer >= 1, got {degree}")
    region = emu.get("region")
    if region is not None and region != "design":
        if not isinstance(region, dict):
            raise ConfigError("emulator.region", "must be 'design' (the store's one "
                              "ellipsoid design) or a mapping {center, covariance, radius}, "
                              f"got {region!r}")
        check_keys(region, ("center", "covariance", "radius"), "emulator.region")
    factor = get(emu, "factor", dict, None, where="emulator")
    if factor is not None:
        check_keys(factor, ("linear", "log", "const"), "emulator.factor")

    for i, mw in enumerate(get(emu, "mode_weights", list, [], where="emulator")):
        where = f"emulator.mode_weights[{i}]"
        if not isinstance(mw, dict):
            raise ConfigError(
                where, f"must be a mapping {{modes: [low, high], weight: w}}, got {mw!r}"
            )
        check_keys(mw, ("modes", "weight"), where)
        rng = get(mw, "modes", list, where=where)
        w = get(mw, "weight", float, where=where)
        if len(rng) != 2 or not rng[0] <= rng[1] or not w > 0:
            raise ConfigError(
                where,
                f"needs modes: [low, high] with low <= high and weight > 0, "
                f"got modes={rng}, weight={w}",
            )

    em = get(cfg, "error_model", dict, None)
    if em is not None:
        check_keys(
            em,
            ("type", "spectrum", "f_sky", "noise_uk_arcmin", "beam_fwhm_arcmin", "value"),
            "error_model",
        )
        check_choice(get(em, "type", str, where="error_model"), ERROR_MODELS, "error_model.type")
        if em["type"] in ("relative", "absolute"):
            v = get(em, "value", (float, list), where="error_model")
            if not np.all(np.asarray(v, float) > 0):
                raise ConfigError("error_model.value", f"must be > 0, got {v}")
    if fs == "error_model" and em is None:
        raise ConfigError("emulator.feature_scale", "'error_model' needs an error_model section")

    tr = dict(get(cfg, "training", dict, {}))
    allowed = (
        "loss",
        "stages",
        "optimizer",
        "weight_decay",
        "val_fraction",
        "seed",
        "dtype",
        "checkpoint",
        "checkpoint_every",
        "finetune",
        "solver",
    )
    check_keys(tr, allowed, "training")
    check_choice(tr.get("solver", "adam"), ("adam", "lstsq"), "training.solver")
    if tr.get("solver", "adam") == "lstsq":
        if hidden:
            raise ConfigError("emulator.hidden", "training.solver 'lstsq' fits a network "
                              f"without hidden layers: set hidden: [], got {hidden}")
        if tr.get("loss", "mse") != "mse" or "finetune" in tr:
            raise ConfigError("training", "solver 'lstsq' fits the mse loss once: no other "
                              "loss, no finetune")
    elif not hidden:
        raise ConfigError("emulator.hidden", "a network without hidden layers needs "
                          "training.solver: lstsq")
    _check_phase(tr, "training", em)
    tr["stages"] = _parse_stages(tr, "training") or list(DEFAULT_STAGES)
    ft = get(tr, "finetune", dict, None, where="training")
    if ft is not None:
        ft = dict(ft)
        check_keys(
            ft, ("loss", "stages", "optimizer", "weight_decay", "dtype"), "training.finetune"
        )
        _check_phase(ft, "training.finetune", em)
        ft["stages"] = _parse_stages(ft, "training.finetune")
        if not ft["stages"]:
            raise ConfigError("training.finetune.stages", "needs at least one stage")
        tr["finetune"] = ft
    if "checkpoint" in tr:
        tr["checkpoint"] = _resolve(base, str(tr["checkpoint"]))

    out = get(cfg, "output", dict)
    check_keys(out, ("path", "description"), "output")
    return TrainConfig(
        raw=dict(cfg),
        store=store,
        quantity=quantity,
        outputs=outputs,
        design_rows=ranges,
        max_samples=n_max,
        box=box,
        emulator=emu,
        error_model=em,
        training=tr,
        output=_resolve(base, get(out, "path", str, where="output")),
        description=get(out, "description", str, "", where="output"),
        base_dir=base,
    )


def _check_phase(tr: Mapping[str, Any], where: str, em: Any) -> None:
    check_choice(tr.get("loss", "mse"), LOSSES, f"{where}.loss")
    if tr.get("loss") == "weighted" and em is None:
        raise ConfigError(f"{where}.loss", "'weighted' needs an error_model section")
    check_choice(tr.get("optimizer", "adam"), ("adam", "adamw"), f"{where}.optimizer")
    check_choice(tr.get("dtype", "float32"), ("float32", "float64"), f"{where}.dtype")


def _parse_stages(tr: Mapping[str, Any], where: str) -> list[Stage]:
    stages = []
    for i, st in enumerate(get(tr, "stages", list, [], where=where)):
        field = f"{where}.stages[{i}]"
        if not isinstance(st, dict):
            raise ConfigError(field, f"must be a mapping, got {st!r}")
        check_keys(
            st, ("learning_rate", "batch_size", "max_epochs", "patience", "decay", "final"), field
        )
        kw = {k: (float(v) if k in ("learning_rate", "final") else v) for k, v in st.items()}
        try:
            stages.append(Stage(**kw))
        except (TypeError, ValueError) as err:
            raise ConfigError(field, str(err)) from err
    return stages


def error_model_sigma(
    em: Mapping[str, Any], quantity: str, y: np.ndarray, modes: np.ndarray, load=None
) -> np.ndarray:
    """Per-sample, per-mode sigma ``(n, n_modes)`` of an error model for outputs ``y``.

    Args:
        em: the ``error_model`` section (``type``: cmb, relative or absolute).
        quantity: the emulated quantity (``tt``, ``te``, ...).
        y: outputs ``(n, n_modes)``.
        modes: ell values for ``cmb``.
        load: callable ``name -> (n, n_modes)`` for the other spectra ``te`` needs.
    """
    kind = em["type"]
    if kind == "relative":
        return np.abs(y) * np.asarray(em["value"], float)
    if kind == "absolute":
        return np.broadcast_to(np.asarray(em["value"], float), y.shape).copy()
    spectrum = em.get("spectrum", quantity)
    cls = {spectrum: y}
    if spectrum == "te":
        cls.update(tt=load("tt"), ee=load("ee"))
    kw = {k: float(em[k]) for k in ("f_sky", "noise_uk_arcmin", "beam_fwhm_arcmin") if k in em}
    return cmb_sigma(spectrum, modes, cls, **kw)


def train_from_config(
    config: str | os.PathLike | Mapping[str, Any],
    *,
    progress: bool = True,
    store: str | os.PathLike | None = None,
) -> TrainResult:
    """Train and save the emulator a config describes (the ``cosmoemu train`` command).

    Args:
        config: path of a YAML file (relative paths in it are relative to the file), or a dict.
        progress: show progress bars.
        store: a data store to use instead of the config's ``data.store``.

    Returns:
        The :class:`~cosmoemu.emulator.TrainResult`; the model is written to ``output.path``.
    """
    from ..data import open_store

    if isinstance(config, Mapping):
        raw, base = dict(config), Path(".")
    else:
        raw, base = load_yaml(config), Path(config).resolve().parent
    cfg = parse_train_config(raw, base)
    if store is not None:
        cfg.store = Path(store)
    ds = open_store(cfg.store)
    if cfg.quantity not in ds.quantities:
        raise ConfigError(
            "data.quantity", unknown_name_message("quantity", cfg.quantity, ds.quantities)
        )
    rows = np.arange(len(ds))
    if cfg.design_rows is not None:
        dr = ds.design_rows
        keep = np.zeros(len(ds), bool)
        for lo, hi in cfg.design_rows:
            keep |= (dr >= lo) & (dr < hi)
        rows = rows[keep]
    if cfg.max_samples is not None:
        rows = rows[: cfg.max_samples]
    if rows.size < 10:
        raise ConfigError("data", f"only {rows.size} samples selected from '{cfg.store}'")
    x = ds.params(rows)
    y = ds.load(cfg.quantity, rows)
    modes = ds.modes(cfg.quantity)
    mode_label = "ell" if cfg.quantity in ("tt", "te", "ee", "bb", "pp") else "name"
    if y.ndim != 2:
        raise ConfigError(
            "data.quantity",
            f"'{cfg.quantity}' is {y.ndim - 1}-D per sample; "
            "emulate one redshift at a time or flatten it first",
        )
    if cfg.outputs is not None:
        names = [str(m) for m in modes]
        for o in cfg.outputs:
            if o not in names:
                raise ConfigError("data.outputs", unknown_name_message("output", o, names))
        cols = [names.index(o) for o in cfg.outputs]
        y, modes = y[:, cols], np.asarray(cfg.outputs)
    box = cfg.box
    if box is None and ds.manifest is not None:
        p = ds.manifest["parameters"]
        box = {n: (lo, hi) for n, lo, hi in zip(p["names"], p["low"], p["high"], strict=True)}
    if box is not None:
        missing = [p for p in ds.param_names if p not in box]
        if missing:
            raise ConfigError("data.box", f"no box for {missing}")
    else:
        log.warning("no box in the config or store manifest: using the range of the samples")

    emu = cfg.emulator
    sigma = None
    if cfg.error_model is not None:
        sigma = error_model_sigma(
            cfg.error_model, cfg.quantity, y, modes, lambda q: ds.load(q, rows)
        )
    feature_scale: Any = "std"
    if emu.get("feature_scale") == "error_model":
        feature_scale = _feature_scale_from_sigma(x, y, sigma, emu, ds.param_names)
    if emu.get("mode_weights"):
        feature_scale = apply_mode_weights(feature_scale, y, modes, emu["mode_weights"])
        if sigma is not None:  # the weighted loss asks for the same emphasis
            sigma = sigma * apply_mode_weights(np.ones(len(modes)), y, modes, emu["mode_weights"])
    tr = cfg.training
    provenance = {
        "config": cfg.raw,
        "command": " ".join(shlex.quote(a) for a in sys.argv) if sys.argv else "",
        "store": str(cfg.store),
        "design_rows": cfg.design_rows,
        "n_samples": int(rows.size),
    }
    common = {
        "parameters": ds.param_names,
        "modes": modes,
        "mode_label": mode_label,
        "box": box,
        "sigma": sigma,
        "val_fraction": float(tr.get("val_fraction", 0.1)),
        "seed": int(tr.get("seed", 0)),
        "progress": progress,
        "checkpoint_every": int(tr.get("checkpoint_every", 25)),
    }
    ckpt = tr.get("checkpoint")
    result = train_emulator(
        x,
        y,
        kind=emu["kind"],
        n_components=emu.get("n_components"),
        pca_tol=emu.get("pca_tol"),
        log10=bool(emu.get("log10", False)),
        factor=emu.get("factor"),
        feature_scale=feature_scale,
        hidden=tuple(emu.get("hidden", (256,) * 4)),
        activation=emu.get("activation", "alsing"),
        input_degree=int(emu.get("input_degree", 1)),
        solver=tr.get("solver", "adam"),
        region=_region(emu.get("region"), ds),
        loss=tr.get("loss", "mse"),
        stages=tr["stages"],
        optimizer=tr.get("optimizer", "adam"),
        weight_decay=float(tr.get("weight_decay", 1e-5)),
        dtype=tr.get("dtype", "float32"),
        checkpoint=ckpt,
        provenance=provenance,
        **common,
    )
    ft = tr.get("finetune")
    if ft is not None:
        first_phase = result.emulator.metadata["training"]
        first_phase.pop("provenance", None)
        result = train_emulator(
            x,
            y,
            init=result.emulator,
            loss=ft.get("loss", "weighted"),
            stages=ft["stages"],
            optimizer=ft.get("optimizer", "adam"),
            weight_decay=float(ft.get("weight_decay", 1e-5)),
            dtype=ft.get("dtype", "float32"),
            checkpoint=None if ckpt is None else Path(f"{ckpt}_finetune"),
            provenance={**provenance, "first_phase": first_phase},
            **common,
        )
    files = save_emulator(
        result.emulator,
        cfg.output,
        description=cfg.description,
        quantity=cfg.quantity,
        error_model=cfg.error_model,
    )
    result.summary["files"] = [str(f) for f in files]
    return result


def _region(value: Any, ds: Any) -> dict[str, Any] | None:
    """The emulator's validity ellipsoid from the config: explicit, or the store's design."""
    if value is None or isinstance(value, dict):
        return value
    recipe = (ds.manifest or {}).get("design", {}).get("recipe", [])
    if len(recipe) != 1 or recipe[0].get("kind") != "ellipsoid" or "covariance" not in recipe[0]:
        raise ConfigError("emulator.region", "'design' needs a store made by one ellipsoid design "
                          "with a covariance; give {center, covariance, radius} instead")
    r = recipe[0]
    return {"center": r["fiducial"], "covariance": r["covariance"], "radius": r["radius"]}


def apply_mode_weights(
    feature_scale: str | np.ndarray, y: np.ndarray, modes: np.ndarray, weights: list[dict]
) -> np.ndarray:
    """Divide the feature scale of modes in ``[low, high]`` by ``weight``.

    A weight w > 1 asks for w times smaller errors there: those modes count w^2 times more in
    the loss and PCA keeps more components for them. Use it where a max-over-modes metric is
    dominated by a few modes (e.g. the reionisation bump of C_ell^EE at ell < 30).
    """
    if isinstance(feature_scale, str):  # "std": standard deviation of each mode
        feature_scale = np.std(y, axis=0)
        feature_scale = np.where(feature_scale > 0, feature_scale, 1.0)
    scale = np.array(feature_scale, np.float64)
    labels = np.asarray(modes, np.float64)
    for mw in weights:
        lo, hi = mw["modes"]
        scale[(labels >= lo) & (labels <= hi)] /= float(mw["weight"])
    return scale


def _feature_scale_from_sigma(x, y, sigma, emu, names) -> np.ndarray:
    """Mean sigma in the emulated space (after the factor and log10): the PCA metric."""
    from ._transforms import ParamFactor

    f = emu.get("factor")
    z, s = y, sigma
    if f is not None:
        pf = ParamFactor.from_names(names, f.get("linear"), f.get("log"), f.get("const", 0.0))
        z, s = pf.encode(y, x), pf.encode(sigma, x)
    if emu.get("log10", False):
        return np.mean(s / (np.abs(z) * np.log(10.0)), axis=0)
    return np.mean(s, axis=0)
