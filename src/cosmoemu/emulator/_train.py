"""Training emulators with optax: staged schedules, early stopping, checkpoints, resumption.

The validation split is drawn once from the seed and never trained on; each stage of the schedule
(learning rate, batch size) runs until the validation loss has not improved for ``patience``
epochs and then restores the best weights. An epoch is one jitted ``lax.scan`` over shuffled
mini-batches, so it compiles once per batch size.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import functools
import hashlib
import importlib.metadata
import json
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from ._emulator import Emulator, make_emulator
from ._loop import LoopState, Stage, TrainingError, _jitted, make_optimizer, run_stages
from ._network import MLP, init_mlp
from ._pca import fit_pca
from ._transforms import Affine, ParamFactor, Pow10, Transform, decode_chain, encode_chain

__all__ = ["Stage", "DEFAULT_STAGES", "TrainingError", "TrainResult", "train_emulator"]

log = logging.getLogger(__name__)

LossName = Literal["mse", "weighted"]
LOSSES: tuple[str, ...] = ("mse", "weighted")
KINDS: tuple[str, ...] = ("dense", "pca")


DEFAULT_STAGES: tuple[Stage, ...] = (
    Stage(1e-3, 32, 300, 30),
    Stage(5e-4, 64, 300, 30),
    Stage(2e-4, 128, 300, 30),
    Stage(1e-4, 256, 300, 30),
    Stage(3e-5, 512, 300, 30),
)


@dataclass
class TrainResult:
    """What training returns.

    Attributes:
        emulator: the trained :class:`~cosmoemu.Emulator` (best validation weights).
        history: per-epoch ``train_loss``, ``val_loss``, ``stage``, ``learning_rate``.
        train_indices, val_indices: rows of the input arrays used for each split.
    """

    emulator: Emulator
    history: dict[str, np.ndarray]
    train_indices: np.ndarray
    val_indices: np.ndarray
    summary: dict[str, Any] = field(default_factory=dict)


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
        if not 0.0 < val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
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
    kind: str,
    log10: bool,
    factor: ParamFactor | None,
    feature_scale: Any,
    n_components: int | None,
    pca_tol: float | None,
) -> tuple[Affine, tuple[Transform, ...], dict[str, Any]]:
    """Fit the input standardisation and the output chain on the training rows."""
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
    if feature_scale is None or (isinstance(feature_scale, str) and feature_scale == "std"):
        feat = Affine.standardise(z)
    else:
        scale = np.broadcast_to(np.asarray(feature_scale, np.float64), z.shape[1:]).copy()
        if not np.all(np.isfinite(scale)) or np.any(scale <= 0):
            raise ValueError("feature_scale must be finite and > 0 for every mode")
        feat = Affine(z.mean(axis=0), scale)
    chain.append(feat)
    z = feat.encode(z)
    if kind == "pca":
        fit = fit_pca(z, n_components=n_components, tol=pca_tol)
        chain.append(fit.pca)
        z = fit.pca.encode(z)
        info["pca"] = fit.summary()
        chain.append(Affine.standardise(z))
    return input_tf, tuple(reversed(chain)), info


@functools.lru_cache(maxsize=8)
def _loss_fn(loss: str):
    """The loss by name; cached so that jitted epochs are reused between runs."""

    def fn(net: MLP, frozen: tuple, xb: Array, tb: Array, sb: Array) -> Array:
        input_tf, chain = frozen
        pred = net(input_tf.encode_jax(xb))
        if loss == "mse":  # sb: per-output weights (PCA: the coefficients' scales)
            return jnp.mean(((pred - tb) * sb) ** 2)
        phys = decode_chain(chain, pred, xb)
        return jnp.mean(((phys - tb) / sb) ** 2)

    return fn


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


def train_emulator(
    params: np.ndarray,
    outputs: np.ndarray,
    *,
    parameters: Sequence[str],
    modes: Sequence[Any] | np.ndarray | None = None,
    mode_label: str = "mode",
    box: Mapping[str, Sequence[float]] | None = None,
    kind: str = "dense",
    n_components: int | None = None,
    pca_tol: float | None = None,
    log10: bool = False,
    factor: Mapping[str, Any] | ParamFactor | None = None,
    feature_scale: str | np.ndarray | None = "std",
    hidden: Sequence[int] = (256, 256, 256, 256),
    activation: str = "alsing",
    input_degree: int = 1,
    solver: str = "adam",
    region: Mapping[str, Any] | None = None,
    loss: str = "mse",
    sigma: np.ndarray | None = None,
    stages: Sequence[Stage | Mapping[str, Any]] = DEFAULT_STAGES,
    optimizer: str = "adam",
    weight_decay: float = 1e-5,
    val_fraction: float = 0.1,
    val_indices: Sequence[int] | np.ndarray | None = None,
    seed: int = 0,
    dtype: str = "float32",
    init: Emulator | None = None,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: int = 25,
    progress: bool = True,
    callback: Callable[[dict[str, Any]], None] | None = None,
    provenance: Mapping[str, Any] | None = None,
) -> TrainResult:
    """Train an emulator ``parameters -> outputs``.

    Args:
        params: inputs, shape ``(n_samples, n_params)`` in ``parameters`` order.
        outputs: targets in physical units, shape ``(n_samples, n_modes)``.
        parameters: input names.
        modes: labels of the outputs (ell, k, names); default ``0..n_modes-1``.
        mode_label: what the modes are (``"ell"``, ``"k [1/Mpc]"``, ``"name"``).
        box: training box ``{name: (low, high)}``; default: the range of ``params``.
        kind: ``"dense"`` (the network outputs every mode) or ``"pca"``.
        n_components: PCA components (``kind="pca"``), or
        pca_tol: the fewest components whose max reconstruction error on the training rows is
            below this, in feature units (standard deviations, or those of ``feature_scale``).
        log10: emulate ``log10(outputs)`` (outputs must be positive).
        factor: a known factor of the parameters to divide out before anything else,
            ``{"linear": {name: a}, "log": {name: b}, "const": c}`` (see
            :class:`~cosmoemu.emulator.ParamFactor`), or a ``ParamFactor``.
        feature_scale: ``"std"`` (standardise each mode) or an array ``(n_modes,)`` of scales
            (e.g. the error model's sigma in the emulated space, so PCA spends components where
            the data is precise).
        hidden: hidden-layer widths.
        activation: ``"alsing"`` (trainable, Alsing et al. 2020), ``"tanh"``, ``"silu"``,
            ``"gelu"`` or ``"relu"``.
        input_degree: feed the network the monomials of degree 1..d of the standardised
            inputs (1: the inputs themselves). With ``hidden=()`` the emulator is a polynomial.
        solver: ``"adam"`` (the staged schedule), or ``"lstsq"``: the exact least-squares fit
            of a network without hidden layers (``hidden=()``, ``loss="mse"``), in float64;
            ``stages`` are then unused and the validation split only measures the fit.
        region: an ellipsoid of validity ``{"center", "covariance", "radius"}`` saved with the
            model (inputs outside it count as outside the box), for emulators trained on a
            posterior region; see :attr:`Emulator.region`.
        loss: ``"mse"`` on the network's standardised targets, or ``"weighted"``: mean of
            ``((prediction - outputs) / sigma)**2`` in physical units.
        sigma: per-mode error model for ``loss="weighted"``: ``(n_modes,)`` or
            ``(n_samples, n_modes)`` (e.g. cosmic variance of each training spectrum).
        stages: the schedule, :class:`Stage` objects or dicts with the same fields.
        optimizer: ``"adam"`` or ``"adamw"`` (with ``weight_decay``).
        weight_decay: AdamW decoupled weight decay.
        val_fraction: fraction of rows drawn (from ``seed``) for validation, or
        val_indices: explicit validation rows.
        seed: seeds the split, the initial weights and the batch order; recorded.
        dtype: ``"float32"`` or ``"float64"`` (training precision).
        init: continue from this emulator (same transforms, its weights as the start).
        checkpoint: file stem for checkpoints; if it exists and matches this run, training
            resumes from it.
        checkpoint_every: epochs between checkpoints.
        progress: show a tqdm bar with epoch, loss and validation loss.
        callback: called after every epoch (and checkpoint) with a dict: ``stage``, ``epoch``,
            ``train_loss``, ``val_loss``, ``best_val_loss``; raising from it stops training.
        provenance: extra JSON-able record saved with the model (data source, command...).

    Returns:
        :class:`TrainResult` with the emulator at its best validation loss.

    Raises:
        ValueError: inconsistent shapes, NaN in the data, unknown names or settings.
        TrainingError: the loss became NaN or infinite.
    """
    from .._config import check_choice

    check_choice(kind, KINDS, "kind")
    check_choice(loss, LOSSES, "loss")
    check_choice(optimizer, ("adam", "adamw"), "optimizer")
    check_choice(dtype, ("float32", "float64"), "dtype")
    check_choice(solver, ("adam", "lstsq"), "solver")
    hidden = tuple(hidden)
    if solver == "lstsq" and (hidden or loss != "mse" or init is not None):
        raise ValueError("solver='lstsq' fits a network without hidden layers (hidden=()) to "
                         f"the MSE loss from scratch; got hidden={hidden}, loss={loss!r}"
                         + (", init=..." if init is not None else ""))
    x = np.asarray(params, np.float64)
    y = np.asarray(outputs, np.float64)
    parameters = tuple(parameters)
    if x.ndim != 2 or x.shape[1] != len(parameters):
        raise ValueError(
            f"params must be (n_samples, {len(parameters)}) for parameters {parameters}, "
            f"got shape {x.shape}"
        )
    if y.ndim != 2 or y.shape[0] != x.shape[0]:
        raise ValueError(f"outputs must be (n_samples={x.shape[0]}, n_modes), got {y.shape}")
    _check_finite("params", x)
    _check_finite("outputs", y)
    n, m = y.shape
    if init is None and kind == "pca" and n_components is None and pca_tol is None:
        raise ValueError("kind='pca' needs n_components or pca_tol")
    if loss == "weighted":
        if sigma is None:
            raise ValueError("loss='weighted' needs sigma, the per-mode error model")
        sigma = np.asarray(sigma, np.float64)
        if sigma.shape not in ((m,), (n, m)):
            raise ValueError(f"sigma must be ({m},) or ({n}, {m}), got {sigma.shape}")
        _check_finite("sigma", sigma)
        if np.any(sigma <= 0):
            raise ValueError("sigma must be > 0 everywhere")
    if isinstance(factor, Mapping):
        factor = ParamFactor.from_names(
            parameters, factor.get("linear"), factor.get("log"), factor.get("const", 0.0)
        )
    stages = tuple(s if isinstance(s, Stage) else Stage(**dict(s)) for s in stages)
    if not stages:
        raise ValueError("stages must hold at least one stage")
    if box is None:
        box = {p: (float(x[:, i].min()), float(x[:, i].max())) for i, p in enumerate(parameters)}
    modes = np.arange(m) if modes is None else np.asarray(modes)
    if modes.shape != (m,):
        raise ValueError(f"modes must have {m} entries (one per output), got {modes.shape}")

    train_idx, val_idx = _split(n, val_fraction, seed, val_indices)
    info: dict[str, Any] = {}
    if init is not None:
        if init.parameters != parameters or init.n_modes != m:
            raise ValueError("init emulator has different parameters or number of modes")
        input_tf, chain, kind = init.input_transform, init.output_transforms, init.kind
        info = {k: v for k, v in init.metadata.items() if k == "pca"}
    else:
        input_tf, chain, info = _fit_transforms(
            x[train_idx],
            y[train_idx],
            parameters,
            kind,
            log10,
            factor,
            feature_scale,
            n_components,
            pca_tol,
        )
    np_dtype = np.float64 if dtype == "float64" else np.float32

    precision = jax.enable_x64(True) if dtype == "float64" else contextlib.nullcontext()
    with precision:
        key = jax.random.PRNGKey(seed)
        if init is not None:
            net = init.network
        else:
            # decode order for PCA: (coefficient standardisation, PCA, ...)
            n_out = chain[1].n_components if kind == "pca" else m
            net = init_mlp(key, (len(parameters), *hidden, n_out), activation, np_dtype,
                           input_degree)
        net = jax.tree_util.tree_map(lambda a: jnp.asarray(a, np_dtype), net)
        frozen = jax.tree_util.tree_map(lambda a: jnp.asarray(a, np_dtype), (input_tf, chain))

        if loss == "mse":
            targets = encode_chain(chain, y, x)
        else:
            targets = y
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

        loss_fn = _loss_fn(loss)
        opt = make_optimizer(optimizer, weight_decay)
        settings = {
            "kind": kind,
            "hidden": list(net.sizes[1:-1]),
            "activation": net.activation,
            "input_degree": net.input_degree,
            "solver": solver,
            "loss": loss,
            "stages": [asdict(s) for s in stages],
            "optimizer": optimizer,
            "weight_decay": weight_decay,
            "seed": seed,
            "dtype": dtype,
            "log10": log10,
            "n_train": int(train_idx.size),
            "n_val": int(val_idx.size),
        }
        fp = _fingerprint(x, y, train_idx, json.dumps(settings, sort_keys=True))
        if solver == "lstsq":
            final_net = _lstsq_fit(net, input_tf, x[train_idx], targets[train_idx], np_dtype)
            final_j = jax.tree_util.tree_map(jnp.asarray, final_net)
            best_val = float(_jitted(loss_fn)(final_j, frozen, xv, tv, sv))
            train_loss = float(_jitted(loss_fn)(final_j, frozen, xt, tt, st))
            history = {"train_loss": [train_loss], "val_loss": [best_val], "stage": [0],
                       "learning_rate": [0.0]}
            settings["stages"] = []
        else:
            state = LoopState(net, opt.init(net), net,
                              float(_jitted(loss_fn)(net, frozen, xv, tv, sv)))
            ckpt = Path(checkpoint) if checkpoint is not None else None
            if ckpt is not None and state.restore(ckpt, fp):
                log.info("resuming from checkpoint %s at stage %d epoch %d", ckpt, state.stage,
                         state.epoch)
            state = run_stages(
                state,
                stages,
                loss_fn,
                opt,
                frozen,
                (xt, tt, st),
                (xv, tv, sv),
                key,
                checkpoint=ckpt,
                fingerprint=fp,
                checkpoint_every=checkpoint_every,
                progress=progress,
                callback=callback,
            )
            final_net = jax.tree_util.tree_map(np.asarray, state.best_net)
            history, best_val = state.history, state.best_val

    n_stages = 0 if solver == "lstsq" else len(stages)
    epochs_per_stage = [int(sum(1 for s in history["stage"] if s == i)) for i in range(n_stages)]
    training = {
        **settings,
        "epochs_per_stage": epochs_per_stage,
        "best_val_loss": float(best_val),
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "versions": _versions(),
        "val_split_seed": [seed, 1] if val_indices is None else "explicit",
        **({"provenance": dict(provenance)} if provenance else {}),
    }
    emu = make_emulator(
        final_net,
        input_tf,
        chain,
        parameters,
        box,
        modes,
        kind,
        mode_label=mode_label,
        metadata={"training": training, **info},
        region=region,
    )
    hist = {k: np.asarray(v) for k, v in history.items()}
    return TrainResult(emu, hist, train_idx, val_idx, summary={"best_val_loss": float(best_val)})
