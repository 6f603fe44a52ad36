"""Training emulators with optax: staged schedules, early stopping, checkpoints, resumption.

The validation split is drawn once from the seed and never trained on; each stage of the schedule
(learning-rate schedule, batch size) runs until the validation loss has not improved for
``patience`` epochs and then restores the best weights. An epoch is one jitted ``lax.scan`` over
shuffled mini-batches, so it compiles once per batch size. Outputs with several axes (``(n,
n_z, n_k)``) are flattened for the transforms and the network and reshaped by ``predict``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import hashlib
import importlib.metadata
import json
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from .._errors import unknown_name_message
from .._fitting import FitState, TrainingError
from ._axes import Axis, as_axes
from ._emulator import Emulator, make_emulator
from ._loop import LoopState, _jitted, make_optimizer, run_stages
from ._network import MLP, init_mlp
from ._pca import fit_pca
from ._spec import DEFAULT_STAGES, EmulatorSpec, Stage, TrainSpec
from ._transforms import PCA, Affine, ParamFactor, Pow10, Transform, decode_chain, encode_chain

__all__ = ["Stage", "DEFAULT_STAGES", "TrainingError", "TrainResult", "train_emulator"]

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    """What training returns.

    Attributes:
        emulator: the trained :class:`~cosmoemu.Emulator` (best validation weights).
        history: per-epoch ``train_loss``, ``val_loss``, ``stage``, ``learning_rate``.
        train_indices, val_indices: rows of the input arrays used for each split.
        summary: ``best_val_loss`` (and ``files`` when ``cosmoemu train`` saved the model).
        spec: the settings it was trained with.
    """

    emulator: Emulator
    history: dict[str, np.ndarray]
    train_indices: np.ndarray
    val_indices: np.ndarray
    summary: dict[str, Any] = field(default_factory=dict)
    spec: TrainSpec | None = None


def _versions() -> dict[str, str]:
    from .. import __version__

    return {
        "cosmoemu": __version__,
        "jax": jax.__version__,
        "optax": importlib.metadata.version("optax"),
        "equinox": eqx.__version__,
        "numpy": np.__version__,
    }


def _split(n: int, val_fraction: float, seed: int, val_indices: Any) -> tuple[np.ndarray, ...]:
    if val_indices is not None:
        val = np.unique(np.asarray(val_indices, np.int64))
        if val.size == 0 or val.min() < 0 or val.max() >= n:
            raise ValueError(f"val_indices must be rows in [0, {n}), got {val_indices!r}")
    else:
        n_val = max(1, int(round(val_fraction * n)))
        perm = np.random.default_rng([seed, 1]).permutation(n)
        val = np.sort(perm[:n_val])
    train = np.setdiff1d(np.arange(n), val)
    if train.size < 2:
        raise ValueError(f"need at least 2 training rows after the validation split, have {n}")
    return train, val


def _check_finite(name: str, a: np.ndarray) -> None:
    bad = ~np.isfinite(a)
    if bad.any():
        rows = np.unique(np.argwhere(bad)[:, 0])
        raise ValueError(
            f"{name} has {bad.sum()} NaN/inf values in {rows.size} rows (first rows: "
            f"{rows[:5].tolist()}); remove those samples (failed Boltzmann runs) before training"
        )


def _fit_transforms(
    x: np.ndarray,
    y: np.ndarray,
    parameters: Sequence[str],
    spec: EmulatorSpec,
) -> tuple[Affine, tuple[Transform, ...], dict[str, Any]]:
    """Fit the input standardisation and the output chain on the training rows.

    ``y``: ``(n, n_outputs)`` flattened outputs; ``spec.feature_scale`` ``"std"`` or
    ``(n_outputs,)``."""
    kind, log10, feature_scale = spec.kind, spec.log10, spec.feature_scale
    factor = spec.factor
    if isinstance(factor, Mapping):
        factor = ParamFactor.from_names(
            parameters, factor.get("linear"), factor.get("log"), factor.get("const", 0.0)
        )
    input_tf = Affine.standardise(x)
    chain: list[Transform] = []  # built in encode order, reversed at the end
    info: dict[str, Any] = {}
    z = np.asarray(y, np.float64)
    if factor is not None:
        chain.append(factor)
        z = factor.encode(z, x)
    if log10:
        chain.append(Pow10())
        z = Pow10().encode(z, x)
    if isinstance(feature_scale, str):
        feat = Affine.standardise(z)
    else:
        scale = np.broadcast_to(np.asarray(feature_scale, np.float64), z.shape[1:]).copy()
        feat = Affine(z.mean(axis=0), scale)
    chain.append(feat)
    z = feat.encode(z)
    if kind == "pca":
        fit = fit_pca(z, n_components=spec.n_components, tol=spec.pca_tol)
        chain.append(fit.pca)
        z = fit.pca.encode(z)
        info["pca"] = fit.summary()
        chain.append(Affine.standardise(z))
    return input_tf, tuple(reversed(chain)), info


def _mse_loss(net: MLP, frozen: tuple, xb: Array, tb: Array, sb: Array) -> Array:
    """Mean squared error on the network's targets; ``sb``: per-output weights (for PCA the
    coefficients' scales, so that it is the mean squared error per output)."""
    input_tf, _ = frozen
    pred = net(input_tf.encode_jax(xb))
    return jnp.mean(((pred - tb) * sb) ** 2)


def _weighted_loss(net: MLP, frozen: tuple, xb: Array, tb: Array, sb: Array) -> Array:
    """Mean of ``((prediction - outputs) / sigma)**2`` in physical units; ``sb``: sigma."""
    input_tf, chain = frozen
    phys = decode_chain(chain, net(input_tf.encode_jax(xb)), xb)
    return jnp.mean(((phys - tb) / sb) ** 2)


LOSS_FUNCTIONS = {"mse": _mse_loss, "weighted": _weighted_loss}


def _lstsq_fit(net: MLP, input_tf: Affine, x: np.ndarray, targets: np.ndarray,
               dtype: type) -> MLP:
    """Exact least-squares weights of a network without hidden layers, in float64.

    Minimises the ``"mse"`` loss: its per-output weights only rescale independent columns,
    which does not change the solution, so they are not needed here."""
    from ._network import polynomial_features
    with jax.enable_x64(True):
        z = np.asarray(input_tf.encode(np.asarray(x, np.float64)), np.float64)
        feats = np.asarray(polynomial_features(jnp.asarray(z, jnp.float64), net.input_degree))
    design = np.concatenate([feats, np.ones((len(feats), 1))], axis=1)
    # scale columns for conditioning, solve, undo
    scale = np.maximum(np.abs(design).max(axis=0), 1e-300)
    coef, _, rank, _ = np.linalg.lstsq(design / scale, np.asarray(targets, np.float64),
                                       rcond=None)
    if rank < design.shape[1]:
        raise ValueError(
            f"least squares is rank-deficient ({rank} < {design.shape[1]} terms): use more "
            "training samples than polynomial terms, or a lower input_degree"
        )
    coef = coef / scale[:, None]
    return MLP((np.asarray(coef[:-1], dtype),), (np.asarray(coef[-1], dtype),), (), (),
               net.activation, net.input_degree)


def _fingerprint(*parts: Any) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(
            np.ascontiguousarray(p).tobytes() if isinstance(p, np.ndarray) else repr(p).encode()
        )
    return h.hexdigest()[:16]


def _flat(name: str, a: Any, n: int, shape: tuple[int, ...]) -> np.ndarray:
    """``a`` of shape ``shape``/``(n_outputs,)`` or ``(n, *shape)``/``(n, n_outputs)``,
    flattened over the output axes."""
    a = np.asarray(a, np.float64)
    m = int(np.prod(shape))
    if a.shape in (shape, (m,)):
        return a.reshape(m)
    if a.shape in ((n, *shape), (n, m)):
        return a.reshape(n, m)
    raise ValueError(f"{name} must have shape {shape} or {(n, *shape)}, got {a.shape}")


def _box(box: Any, x: np.ndarray, parameters: tuple[str, ...]) -> dict[str, tuple[float, float]]:
    """The training box, checked: ``{name: (low, high)}`` for exactly ``parameters``."""
    if box is None:
        raise ValueError(
            "box= is required: the box {name: (low, high)} the samples were drawn from (the "
            "prior or design box; for a store made by `cosmoemu generate`, box=store.box). "
            "Outside it predict refuses. box='samples' takes the samples' min/max instead, but "
            "then fresh draws from the same prior fall outside it.")
    if isinstance(box, str):
        if box != "samples":
            raise ValueError(f"box must be a mapping {{name: (low, high)}} or 'samples', got "
                             f"{box!r}")
        return {p: (float(x[:, i].min()), float(x[:, i].max()))
                for i, p in enumerate(parameters)}
    for name in box:
        if name not in parameters:
            raise ValueError("box: " + unknown_name_message("parameter", str(name), parameters))
    missing = [p for p in parameters if p not in box]
    if missing:
        raise ValueError(f"box: no (low, high) for {', '.join(missing)}")
    out = {}
    for p in parameters:
        lo, hi = (float(v) for v in box[p])
        if not lo < hi:
            raise ValueError(f"box of '{p}' must have low < high, got [{lo}, {hi}]")
        out[p] = (lo, hi)
    return out


def _output_axes(y: np.ndarray, modes: Any, mode_label: str, axes: Any) -> tuple[Axis, ...]:
    shape = y.shape[1:]
    if axes is not None:
        if modes is not None:
            raise ValueError("give modes (one output axis) or axes, not both")
        return as_axes(axes, shape)
    if modes is None:
        if len(shape) == 1:
            return (Axis(mode_label, tuple(range(shape[0]))),)
        return tuple(Axis(f"axis_{i}", tuple(range(m))) for i, m in enumerate(shape))
    modes = np.asarray(modes)
    if len(shape) != 1:
        raise ValueError(f"outputs have {len(shape)} axes per sample {shape}: label them with "
                         "axes={name: values, ...} (modes labels one axis)")
    if modes.shape != shape:
        raise ValueError(f"modes must have {shape[0]} entries (one per output), got "
                         f"{modes.shape}")
    return (Axis(mode_label, tuple(modes.tolist())),)


def train_emulator(
    params: np.ndarray,
    outputs: np.ndarray,
    spec: TrainSpec | None = None,
    *,
    parameters: Sequence[str],
    modes: Sequence[Any] | np.ndarray | None = None,
    mode_label: str = "mode",
    axes: Mapping[str, Any] | Sequence[Any] | None = None,
    quantity: str | None = None,
    units: str = "",
    box: Mapping[str, Sequence[float]] | str | None = None,
    sigma: np.ndarray | None = None,
    val_indices: Sequence[int] | np.ndarray | None = None,
    init: Emulator | None = None,
    checkpoint: str | os.PathLike | None = None,
    progress: bool = True,
    callback: Callable[[dict[str, Any]], None] | None = None,
    provenance: Mapping[str, Any] | None = None,
    **settings: Any,
) -> TrainResult:
    """Train an emulator ``parameters -> outputs``.

    The settings come from ``spec`` (a :class:`~cosmoemu.emulator.TrainSpec`, whose fields
    and defaults are documented there), each overridable by keyword: the fields of
    :class:`~cosmoemu.emulator.EmulatorSpec` (``kind``, ``n_components``, ``pca_tol``,
    ``log10``, ``factor``, ``feature_scale``, ``hidden``, ``activation``, ``input_degree``,
    ``region``), of :class:`~cosmoemu.emulator.PhaseSpec` (``solver``, ``loss``, ``stages``,
    ``optimizer``, ``weight_decay``, ``dtype``) and of ``TrainSpec`` (``val_fraction``,
    ``seed``, ``checkpoint_every``). So these two calls are the same::

        train_emulator(x, y, parameters=names, box=box, kind="pca", n_components=32,
                       log10=True, hidden=(256, 256, 256), seed=0)
        train_emulator(x, y, TrainSpec(EmulatorSpec(kind="pca", n_components=32, log10=True,
                       hidden=(256, 256, 256))), parameters=names, box=box)

    Args:
        params: inputs, shape ``(n_samples, n_params)`` in ``parameters`` order.
        outputs: targets in physical units, shape ``(n_samples, n_modes)``, or
            ``(n_samples, *output_shape)`` with several axes (e.g. ``(n, n_z, n_k)``).
        spec: the settings (default: ``TrainSpec()``).
        parameters: input names.
        modes: labels of a single output axis (ell, k, names); default ``0..n_modes-1``.
        mode_label: name of that axis (``"ell"``, ``"k"``, ``"name"``).
        axes: labels of every output axis instead: ``{name: values}`` in order, or a sequence
            of :class:`~cosmoemu.emulator.Axis` (with units), e.g.
            ``[Axis("z", z), Axis("k", k, "1/Mpc")]``.
        quantity: what is emulated (recorded; ``cosmoemu validate`` reads it), e.g. the data
            store's product name ``"pk_nonlin"``.
        units: units of the outputs, e.g. ``"Mpc^3"`` (recorded).
        box: the box ``{name: (low, high)}`` the samples were drawn from (the prior, the
            design box: ``store.box`` for a store made by ``cosmoemu generate``); outside it
            ``predict`` refuses. Required: the samples' own min/max would make fresh draws from
            the same prior fall outside. ``box="samples"`` takes that range on purpose.
        sigma: error model for ``loss="weighted"``: ``output_shape`` or
            ``(n_samples, *output_shape)`` (e.g. cosmic variance of each training spectrum).
        val_indices: explicit validation rows (instead of ``val_fraction``).
        init: continue from this emulator (same transforms, its weights as the start).
        checkpoint: file stem for checkpoints; if it exists and matches this run, training
            resumes from it.
        progress: show a tqdm bar with epoch, loss and validation loss.
        callback: called after every epoch (and checkpoint) with a dict: ``stage``, ``epoch``,
            ``train_loss``, ``val_loss``, ``best_val_loss``, ``network`` (the weights after
            that epoch); raising from it stops training.
        provenance: extra JSON-able record saved with the model (data source, command...).
        **settings: fields of the spec, by name (see above).

    Returns:
        :class:`TrainResult` with the emulator at its best validation loss.

    Raises:
        ValueError: inconsistent shapes, NaN in the data, unknown names or settings
            (:class:`~cosmoemu.emulator.SpecError` naming the setting).
        TypeError: an unknown keyword.
        TrainingError: the loss became NaN or infinite.
    """
    spec = (spec or TrainSpec()).replace(**settings) if settings else (spec or TrainSpec())
    emu_spec, phase = spec.emulator, spec.phase
    for name, value in (("feature_scale", emu_spec.feature_scale), ("region", emu_spec.region)):
        if isinstance(value, str) and value in ("error_model", "design"):
            raise ValueError(f"{name}={value!r} is resolved by `cosmoemu train` from its config; "
                             "pass the array (or mapping) itself")
    if phase.solver == "lstsq" and init is not None:
        raise ValueError("solver='lstsq' fits a network without hidden layers (hidden=()) to "
                         "the MSE loss from scratch; got init=...")
    x = np.asarray(params, np.float64)
    y = np.asarray(outputs, np.float64)
    parameters = tuple(parameters)
    if x.ndim != 2 or x.shape[1] != len(parameters):
        raise ValueError(
            f"params must be (n_samples, {len(parameters)}) for parameters {parameters}, "
            f"got shape {x.shape}"
        )
    if y.ndim < 2 or y.shape[0] != x.shape[0]:
        raise ValueError(f"outputs must be (n_samples={x.shape[0]}, n_modes) or (n_samples, "
                         f"*output_shape), got {y.shape}")
    _check_finite("params", x)
    _check_finite("outputs", y)
    n, shape = y.shape[0], tuple(y.shape[1:])
    out_axes = _output_axes(y, modes, mode_label, axes)
    y = y.reshape(n, -1)  # C order: the last axis fastest, as predict reshapes
    m = y.shape[1]
    if not isinstance(emu_spec.feature_scale, str):
        emu_spec = dataclasses.replace(
            emu_spec, feature_scale=_flat("feature_scale", emu_spec.feature_scale, n, shape))
    if phase.loss == "weighted":
        if sigma is None:
            raise ValueError("loss='weighted' needs sigma, the per-mode error model")
        sigma = _flat("sigma", sigma, n, shape)
        _check_finite("sigma", sigma)
        if np.any(sigma <= 0):
            raise ValueError("sigma must be > 0 everywhere")
    box = _box(box, x, parameters)

    train_idx, val_idx = _split(n, spec.val_fraction, spec.seed, val_indices)
    info: dict[str, Any] = {}
    kind = emu_spec.kind
    if init is not None:
        if init.parameters != parameters or init.output_shape != shape:
            raise ValueError(f"init emulator has parameters {init.parameters} and outputs "
                             f"{init.output_shape}; these data have {parameters} and {shape}")
        input_tf, chain, kind = init.input_transform, init.output_transforms, init.kind
        info = {k: v for k, v in init.metadata.items() if k == "pca"}
        if quantity is None and init.quantity is not None:
            quantity, units = init.quantity, init.units
    else:
        input_tf, chain, info = _fit_transforms(x[train_idx], y[train_idx], parameters, emu_spec)
    dtype = phase.dtype
    np_dtype = np.float64 if dtype == "float64" else np.float32
    loss = phase.loss

    precision = jax.enable_x64(True) if dtype == "float64" else contextlib.nullcontext()
    with precision:
        key = jax.random.PRNGKey(spec.seed)
        if init is not None:
            net = init.network
        else:
            # decode order for PCA: (coefficient standardisation, PCA, ...)
            n_out = chain[1].n_components if kind == "pca" else m
            net = init_mlp(key, (len(parameters), *emu_spec.hidden, n_out), emu_spec.activation,
                           np_dtype, emu_spec.input_degree)
        net = jax.tree_util.tree_map(lambda a: jnp.asarray(a, np_dtype), net)
        frozen = jax.tree_util.tree_map(lambda a: jnp.asarray(a, np_dtype), (input_tf, chain))

        targets = encode_chain(chain, y, x) if loss == "mse" else y
        if loss == "weighted":
            s_all = sigma
        elif kind == "pca":
            # MSE in standardised-feature units: weight each coefficient by its scale, so the
            # loss is the mean squared error per mode, as for the dense kind
            coef_scale = np.asarray(chain[0].scale, np.float64)
            s_all = coef_scale * np.sqrt(coef_scale.size / m)
        else:
            s_all = np.ones(m)
        per_sample_sigma = loss == "weighted" and s_all.ndim == 2

        def rows(a: np.ndarray, idx: np.ndarray) -> Array:
            return jnp.asarray(a[idx], np_dtype)

        xt, tt = rows(x, train_idx), rows(targets, train_idx)
        xv, tv = rows(x, val_idx), rows(targets, val_idx)
        st = rows(s_all, train_idx) if per_sample_sigma else jnp.asarray(s_all, np_dtype)
        sv = rows(s_all, val_idx) if per_sample_sigma else jnp.asarray(s_all, np_dtype)

        loss_fn = LOSS_FUNCTIONS[loss]
        settings_rec = {
            **spec.record(),
            "kind": kind,
            "hidden": list(net.sizes[1:-1]),
            "activation": net.activation,
            "input_degree": net.input_degree,
            "n_train": int(train_idx.size),
            "n_val": int(val_idx.size),
        }
        fp = _fingerprint(x, y, train_idx, json.dumps(settings_rec, sort_keys=True))
        if phase.solver == "lstsq":
            final_net = _lstsq_fit(net, input_tf, x[train_idx], targets[train_idx], np_dtype)
            final_j = jax.tree_util.tree_map(jnp.asarray, final_net)
            best_val = float(_jitted(loss_fn)(final_j, frozen, xv, tv, sv))
            train_loss = float(_jitted(loss_fn)(final_j, frozen, xt, tt, st))
            history = {"train_loss": [train_loss], "val_loss": [best_val], "stage": [0],
                       "learning_rate": [0.0]}
        else:
            val0 = float(_jitted(loss_fn)(net, frozen, xv, tv, sv))
            state = LoopState(FitState.start(net, None, best_loss=val0))
            ckpt = Path(checkpoint) if checkpoint is not None else None
            # every stage's optimiser state has the same structure (a schedule each)
            template = make_optimizer(phase.optimizer, phase.weight_decay, phase.stages[0],
                                      1).init(net)
            if ckpt is not None and state.restore(ckpt, fp, template):
                log.info("resuming from checkpoint %s at stage %d epoch %d", ckpt, state.stage,
                         state.fit.epoch)
            state = run_stages(
                state,
                phase.stages,
                loss_fn,
                phase.optimizer,
                phase.weight_decay,
                frozen,
                (xt, tt, st),
                (xv, tv, sv),
                key,
                checkpoint=ckpt,
                fingerprint=fp,
                checkpoint_every=spec.checkpoint_every,
                progress=progress,
                callback=callback,
            )
            final_net = jax.tree_util.tree_map(np.asarray, state.fit.best_params)
            history, best_val = state.fit.history, state.fit.best_loss

    n_stages = 0 if phase.solver == "lstsq" else len(phase.stages)
    epochs_per_stage = [int(sum(1 for s in history["stage"] if s == i)) for i in range(n_stages)]
    training = {
        **settings_rec,
        "epochs_per_stage": epochs_per_stage,
        "best_val_loss": float(best_val),
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "versions": _versions(),
        "val_split_seed": [spec.seed, 1] if val_indices is None else "explicit",
        **({"provenance": dict(provenance)} if provenance else {}),
    }
    # the PCA basis (n_components x n_outputs, the bulk of a model file) is stored in float32:
    # float32 predictions cast it so anyway, and its rounding (<= 6e-8 of a unit-norm row)
    # is far below any emulator's error in float64 ones
    chain = tuple(PCA(np.asarray(t.components, np.float32)) if isinstance(t, PCA) else t
                  for t in chain)
    emu = make_emulator(
        final_net,
        input_tf,
        chain,
        parameters,
        box,
        None,
        kind,
        axes=out_axes,
        quantity=None if quantity is None else {"name": quantity, "units": units},
        metadata={"training": training, **info},
        region=emu_spec.region,
    )
    hist = {k: np.asarray(v) for k, v in history.items()}
    return TrainResult(emu, hist, train_idx, val_idx, summary={"best_val_loss": float(best_val)},
                       spec=spec)

