"""The ``azimuthal`` emulator kind: a point source in a horizontally layered medium, observed at
fixed surface receivers (seismograms as a function of the hypocentre).

Physics fixes most of the map. In a medium that only varies with depth, the wavefield of a
point source at (x, y, depth), recorded at a surface receiver, depends on the source only
through the receiver's horizontal offset (epicentral distance ``r`` and azimuth ``phi``) and
the depth; and for a moment-tensor (or force) source its radial, transverse and vertical
components are sums of azimuthal orders ``m = 0, 1, 2``:

.. math::

    u_c(r, \\phi, d, t) = \\sum_{m=0}^{2} \\left[ A_{cm}(r, d, t) \\cos m\\phi
                         + B_{cm}(r, d, t) \\sin m\\phi \\right],
    \\qquad c \\in \\{r, t, z\\}.

So one network of **two** inputs ``(r, d)`` gives the 15 kernels ``A, B`` (each ``n_t`` samples)
for every receiver; the known ``cos m phi``, ``sin m phi`` and the rotation from radial /
transverse to East / North do the rest. Each event trains all receivers at once (10 receivers:
10 kernel samples per simulation), and arrival times that move across the box are only a
function of two smooth inputs. The kernels are scaled by ``R0 / sqrt(r^2 + d^2)`` (geometric
spreading) so that the network sees similar amplitudes at all distances.

For a **fixed** moment tensor the cos/sin pair of each order is one kernel with a fixed phase
(a structure with ``phases``, see :func:`mechanism_phases`): radial and vertical are
``G_0 + G_1 cos(phi - psi_1) + G_2 cos(2 phi - chi_2)``, transverse
``G_1 sin(phi - psi_1) + G_2 sin(2 phi - chi_2)``: 8 kernels instead of 15. With ``n_basis``
K the network gives each kernel as K coefficients of one time basis (the leading right
singular vectors of the training traces of all three components, stored as the emulator's one
output transform); the azimuthal sums and the rotation, folded into one weight matrix per
receiver, act on the coefficients, and each output trace is synthesised once. Both shrink the
network's last layer, which dominates the cost, by 8 / 15 and K / 200 (the seismic emulator:
0.05 ms per hypocentre instead of 0.25 ms, docs/seismic.md).

The outputs are ``(n_receivers, 3, n_t)``: components x (East), y (North), z (Up). Parameters
are ``(east, north, depth)`` in that order (names free), in the units of the receivers'
coordinates (km for the seismic scenario).
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from ._network import MLP, init_mlp

__all__ = ["AZIMUTHAL_ORDERS", "azimuthal_forward", "check_structure", "kernel_basis",
           "mechanism_phases", "train_azimuthal"]

_log = logging.getLogger(__name__)

AZIMUTHAL_ORDERS = 2  # m = 0, 1, 2: a moment tensor (m <= 2) or a force (m <= 1)
N_TERMS = 2 * AZIMUTHAL_ORDERS + 1  # 1, cos phi, sin phi, cos 2phi, sin 2phi
N_FIXED_KERNELS = 8  # fixed mechanism: radial G0 G1 G2, transverse G1 G2, vertical G0 G1 G2
STRUCTURE_TYPE = "point_source_layered"


def check_structure(structure: Mapping[str, Any]) -> dict[str, Any]:
    """Validate the static description of an azimuthal emulator; return a canonical copy.

    Keys: ``type`` (``"point_source_layered"``), ``receivers`` (``(n_rec, 2)`` east/north),
    ``n_times``, ``r_scale`` (features ``r / r_scale - 1``), ``depth_center``, ``depth_scale``
    (feature ``(d - depth_center) / depth_scale``), ``r0`` (spreading reference distance),
    ``output_scale`` (the network's unit, in the output's units). Optional: ``phases``
    ``[psi_1, chi_2]`` radians (a fixed mechanism, 8 kernels; :func:`mechanism_phases`) and
    ``n_basis`` (kernels as coefficients of a time basis of that size).

    Raises:
        ValueError: a missing key or a value of the wrong kind (named).
    """
    need = {"type", "receivers", "n_times", "r_scale", "depth_center", "depth_scale", "r0",
            "output_scale"}
    missing = need - set(structure)
    if missing:
        raise ValueError(f"azimuthal structure lacks {sorted(missing)}")
    if structure["type"] != STRUCTURE_TYPE:
        raise ValueError(f"azimuthal structure type must be {STRUCTURE_TYPE!r}, got "
                         f"{structure['type']!r}")
    rec = np.asarray(structure["receivers"], np.float64)
    if rec.ndim != 2 or rec.shape[1] != 2 or rec.shape[0] < 1 or not np.all(np.isfinite(rec)):
        raise ValueError(f"azimuthal structure receivers must be finite (n, 2), got {rec.shape}")
    out = {"type": STRUCTURE_TYPE, "receivers": rec.tolist(), "n_times": int(structure["n_times"])}
    for key in ("r_scale", "depth_center", "depth_scale", "r0", "output_scale"):
        v = float(structure[key])
        if not math.isfinite(v) or (key != "depth_center" and v <= 0):
            raise ValueError(f"azimuthal structure {key} must be a finite (positive) number, "
                             f"got {structure[key]!r}")
        out[key] = v
    if out["n_times"] < 1:
        raise ValueError(f"azimuthal structure n_times must be >= 1, got {out['n_times']}")
    if structure.get("phases") is not None:
        ph = np.asarray(structure["phases"], np.float64)
        if ph.shape != (2,) or not np.all(np.isfinite(ph)):
            raise ValueError(f"azimuthal structure phases must be two finite angles [psi_1, "
                             f"chi_2] in radians, got {structure['phases']!r}")
        out["phases"] = ph.tolist()
    if structure.get("n_basis") is not None:
        k = structure["n_basis"]
        if isinstance(k, bool) or int(k) != k or not 1 <= int(k) <= out["n_times"]:
            raise ValueError(f"azimuthal structure n_basis must be an integer in [1, n_times="
                             f"{out['n_times']}], got {k!r}")
        out["n_basis"] = int(k)
    return out


def mechanism_phases(strike: float, dip: float, rake: float) -> tuple[float, float]:
    """Phases ``(psi_1, chi_2)`` (radians) of the m = 1 and m = 2 radiation patterns of a
    double couple, in the emulator's frame (x East, y North, azimuth ``phi`` of the receiver
    seen from the source, from East, anticlockwise).

    With the Aki & Richards moment tensor (x North, y East, z down; strike clockwise from North,
    dip, rake in degrees), the order-1 pattern is ``M_xz cos a + M_yz sin a`` and the order-2
    ``(M_xx - M_yy)/2 cos 2a + M_xy sin 2a`` in the azimuth ``a = 90 deg - phi`` clockwise
    from North, i.e. ``cos(phi - psi_1)`` and ``cos(2 phi - chi_2)`` up to an amplitude (and a
    sign, which the kernels absorb).

    Example: a vertical strike-slip fault striking North (0, 90, 0) has ``chi_2 = pi / 2``
    (the four-lobed ``sin 2 phi`` pattern, nodes along the axes) and no order-1 pattern.
    """
    f, d, lam = np.radians([strike, dip, rake])
    m_xx = -(np.sin(d) * np.cos(lam) * np.sin(2 * f)
             + np.sin(2 * d) * np.sin(lam) * np.sin(f) ** 2)
    m_yy = (np.sin(d) * np.cos(lam) * np.sin(2 * f)
            - np.sin(2 * d) * np.sin(lam) * np.cos(f) ** 2)
    m_xy = (np.sin(d) * np.cos(lam) * np.cos(2 * f)
            + 0.5 * np.sin(2 * d) * np.sin(lam) * np.sin(2 * f))
    m_xz = -(np.cos(d) * np.cos(lam) * np.cos(f) + np.cos(2 * d) * np.sin(lam) * np.sin(f))
    m_yz = -(np.cos(d) * np.cos(lam) * np.sin(f) - np.cos(2 * d) * np.sin(lam) * np.cos(f))
    # phi = 90 deg - a: cos a = sin phi, sin a = cos phi, cos 2a = -cos 2phi, sin 2a = sin 2phi
    psi_1 = float(np.arctan2(m_xz, m_yz))
    chi_2 = float(np.arctan2(m_xy, 0.5 * (m_yy - m_xx)))
    return psi_1, chi_2


def n_kernels(structure: Mapping[str, Any]) -> int:
    """Kernels per receiver: 15 (3 components x 5 azimuthal terms), or 8 for a fixed
    mechanism (``phases``)."""
    return N_FIXED_KERNELS if structure.get("phases") is not None else 3 * N_TERMS


def n_kernel_outputs(structure: Mapping[str, Any]) -> int:
    """Network outputs per receiver: kernels x (``n_basis`` coefficients or ``n_times``)."""
    return n_kernels(structure) * int(structure.get("n_basis") or structure["n_times"])


def _geometry(x: Array, receivers: np.ndarray) -> tuple[Array, Array, Array, Array]:
    """Epicentral distance, cos and sin of the azimuth (from East, anticlockwise, source ->
    receiver) and depth, each ``(..., n_rec)``, of sources ``x`` ``(..., 3)``."""
    rec = jnp.asarray(receivers, x.dtype)
    dx = rec[:, 0] - x[..., :1]
    dy = rec[:, 1] - x[..., 1:2]
    # a tiny floor keeps values and gradients finite for a source exactly below a receiver
    r = jnp.sqrt(dx * dx + dy * dy + jnp.asarray(1e-12, x.dtype))
    depth = jnp.broadcast_to(x[..., 2:3], r.shape)
    return r, dx / r, dy / r, depth


def kernel_basis(cos: Array, sin: Array) -> Array:
    """``(..., 5)``: 1, cos phi, sin phi, cos 2 phi, sin 2 phi from cos phi and sin phi."""
    return jnp.stack([jnp.ones_like(cos), cos, sin, cos * cos - sin * sin, 2 * cos * sin],
                     axis=-1)


def _features(r: Array, depth: Array, s: Mapping[str, Any]) -> Array:
    return jnp.stack([r / s["r_scale"] - 1.0, (depth - s["depth_center"]) / s["depth_scale"]],
                     axis=-1)


def _weights(s: Mapping[str, Any], r: Array, cos: Array, sin: Array, depth: Array,
             rotate: bool) -> Array:
    """``(..., n_rec, 3, n_kernels)``: each output component as a combination of the kernels
    (azimuthal terms x geometric spreading; with ``rotate``, also the rotation from radial /
    transverse to x East / y North, so that one contraction gives the traces)."""
    spread = s["r0"] / jnp.sqrt(r * r + depth * depth)
    zero = jnp.zeros_like(spread)
    if s.get("phases") is None:  # kernels ordered (component r/t/z, term 1, c1, s1, c2, s2)
        b = kernel_basis(cos, sin) * spread[..., None]
        z5 = jnp.zeros_like(b)
        rows = [jnp.concatenate(parts, axis=-1) for parts in
                ((b, z5, z5), (z5, b, z5), (z5, z5, b))]
    else:  # kernels: radial G0 G1 G2, transverse G1 G2, vertical G0 G1 G2
        psi, chi = s["phases"]
        c1 = cos * math.cos(psi) + sin * math.sin(psi)  # cos(phi - psi_1)
        s1 = sin * math.cos(psi) - cos * math.sin(psi)  # sin(phi - psi_1)
        cos2, sin2 = cos * cos - sin * sin, 2 * cos * sin
        c2 = cos2 * math.cos(chi) + sin2 * math.sin(chi)  # cos(2 phi - chi_2)
        s2 = sin2 * math.cos(chi) - cos2 * math.sin(chi)  # sin(2 phi - chi_2)
        w_rz = [spread, c1 * spread, c2 * spread]
        w_t = [s1 * spread, s2 * spread]
        rows = [jnp.stack(w_rz + [zero] * 5, axis=-1),
                jnp.stack([zero] * 3 + w_t + [zero] * 3, axis=-1),
                jnp.stack([zero] * 5 + w_rz, axis=-1)]
    if rotate:
        c, sn = cos[..., None], sin[..., None]
        rows = [c * rows[0] - sn * rows[1], sn * rows[0] + c * rows[1], rows[2]]
    return jnp.stack(rows, axis=-2)


def _components(network: MLP, s: Mapping[str, Any], r: Array, cos: Array, sin: Array,
                depth: Array, rotate: bool) -> Array:
    """Radial / transverse / vertical (or, with ``rotate``, x / y / z) traces
    ``(..., n_rec, 3, L)`` in network units; ``L`` is ``n_basis`` (coefficients of the time
    basis) if the structure has one, else ``n_times``."""
    kernels = network(_features(r, depth, s))
    length = int(s.get("n_basis") or s["n_times"])
    kernels = kernels.reshape(*kernels.shape[:-1], n_kernels(s), length)
    return jnp.einsum("...ck,...kt->...ct", _weights(s, r, cos, sin, depth, rotate), kernels)


def time_basis(structure: Mapping[str, Any], output_transforms: Sequence[Any]) -> Array | None:
    """The ``(n_basis, n_times)`` time basis shared by the components (None without
    ``n_basis``): the emulator's one (PCA) output transform."""
    if structure.get("n_basis") is None:
        return None
    return jnp.asarray(output_transforms[0].components)


def azimuthal_forward(network: MLP, structure: Mapping[str, Any], x: Array,
                      output_transforms: Sequence[Any] = ()) -> Array:
    """Traces of sources ``x`` ``(..., 3)`` = (east, north, depth): ``(..., n_rec, 3, n_t)``
    (x East, y North, z Up) in the output's units. ``output_transforms``: the emulator's
    (one PCA transform holding the time basis when the structure has ``n_basis``)."""
    r, cos, sin, depth = _geometry(x, np.asarray(structure["receivers"]))
    out = _components(network, structure, r, cos, sin, depth, rotate=True)
    basis = time_basis(structure, output_transforms)
    if basis is not None:
        out = out @ basis.astype(out.dtype)
    return out * structure["output_scale"]


def _to_rtz_numpy(traces: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """Inverse rotation of ``(E, n_rec, 3, T)`` x/y/z traces to radial/transverse/vertical."""
    c, s = np.cos(phi)[..., None], np.sin(phi)[..., None]
    return np.stack([c * traces[:, :, 0] + s * traces[:, :, 1],
                     -s * traces[:, :, 0] + c * traces[:, :, 1], traces[:, :, 2]], axis=2)


def train_azimuthal(
    theta: np.ndarray,
    traces: np.ndarray,
    receivers: np.ndarray,
    *,
    parameters: Sequence[str],
    box: Mapping[str, Sequence[float]],
    hidden: Sequence[int] = (192, 192, 192),
    activation: str = "silu",
    epochs: int = 150,
    batch_size: int = 256,
    learning_rate: float = 2e-3,
    val_fraction: float = 0.1,
    seed: int = 0,
    noise_sigma: float | None = None,
    phases: Sequence[float] | None = None,
    n_basis: int | None = None,
    quantity: Mapping[str, str] | None = None,
    axes: Any = None,
    metadata: Mapping[str, Any] | None = None,
    log_every: int = 10,
) -> Any:
    """Train an azimuthal emulator on simulated traces.

    Args:
        theta: ``(n_events, 3)`` sources (east, north, depth), same units as ``receivers``.
        traces: ``(n_events, n_rec, 3, n_t)`` x (East) / y (North) / z (Up) traces.
        receivers: ``(n_rec, 2)`` east/north of the surface receivers.
        parameters: the 3 parameter names, in the order east, north, depth.
        box: ``{name: (low, high)}``, the training box (checked at prediction).
        hidden: hidden layer widths of the kernel network.
        activation: one of :data:`~cosmoemu.emulator.ACTIVATIONS`.
        epochs, batch_size, learning_rate: Adam with warm-up + cosine decay; batches of
            (event, receiver) pairs; the best epoch on the validation events is kept.
        val_fraction: share of events held out (never trained on) for model selection.
        seed: seeds the split, the initialisation and the batch order (recorded).
        noise_sigma: if given, accuracy is also reported in units of it.
        phases: ``(psi_1, chi_2)`` radians of a fixed source mechanism
            (:func:`mechanism_phases`): 8 kernels instead of 15 (exact for one moment tensor).
        n_basis: if given, the kernels are this many coefficients of one time basis, the
            leading right singular vectors of the training events' radial, transverse and
            vertical traces together (uncentred, so the azimuthal sums and the rotation stay
            linear); the truncation error on the training traces is logged and recorded.
        quantity, axes, metadata: recorded with the model (see :func:`make_emulator`); axes
            default to receiver index, component x/y/z and sample index.
        log_every: log the validation error every this many epochs.

    Returns:
        The :class:`~cosmoemu.Emulator` (kind ``"azimuthal"``); its metadata holds the training
        record and the validation accuracy (rms residual per event).

    Raises:
        ValueError: inconsistent shapes or non-finite data.
    """
    import optax

    from ._emulator import make_emulator
    from ._transforms import PCA, Affine

    theta = np.asarray(theta, np.float64)
    traces = np.asarray(traces, np.float64)
    receivers = np.asarray(receivers, np.float64)
    if theta.ndim != 2 or theta.shape[1] != 3:
        raise ValueError(f"theta must be (n_events, 3) = (east, north, depth), got {theta.shape}")
    if traces.ndim != 4 or traces.shape[:3] != (len(theta), len(receivers), 3):
        raise ValueError(f"traces must be (n_events, n_receivers, 3, n_t) = ({len(theta)}, "
                         f"{len(receivers)}, 3, n_t), got {traces.shape}")
    if not (np.all(np.isfinite(theta)) and np.all(np.isfinite(traces))):
        raise ValueError("theta and traces must be finite")
    if len(parameters) != 3:
        raise ValueError(f"an azimuthal emulator takes 3 parameters (east, north, depth), got "
                         f"{list(parameters)}")
    n_ev, n_rec, _, n_t = traces.shape
    lo = np.array([box[p][0] for p in parameters])
    hi = np.array([box[p][1] for p in parameters])
    # the largest epicentral distance the box allows, and the depth range
    corners = np.array([[a, b] for a in (lo[0], hi[0]) for b in (lo[1], hi[1])])
    r_max = float(np.max(np.hypot(*(receivers[None] - corners[:, None]).transpose(2, 0, 1))))
    r_geo = np.hypot(*(receivers[None] - theta[:, None, :2]).transpose(2, 0, 1))
    phi = np.arctan2(receivers[None, :, 1] - theta[:, None, 1],
                     receivers[None, :, 0] - theta[:, None, 0])
    depth = np.broadcast_to(theta[:, None, 2], r_geo.shape)
    spread = 0.5 * (lo[2] + hi[2])
    rtz = _to_rtz_numpy(traces, phi)
    scale = float(np.sqrt(np.mean(rtz ** 2)))
    structure = check_structure({
        "type": STRUCTURE_TYPE, "receivers": receivers, "n_times": n_t,
        "r_scale": 0.5 * r_max, "depth_center": 0.5 * (lo[2] + hi[2]),
        "depth_scale": 0.5 * (hi[2] - lo[2]), "r0": spread, "output_scale": scale,
        "phases": None if phases is None else [float(v) for v in phases], "n_basis": n_basis,
    })
    rng = np.random.default_rng(seed)
    order = rng.permutation(n_ev)
    n_val = max(1, int(round(val_fraction * n_ev))) if val_fraction > 0 else 0
    val_ev, tr_ev = np.sort(order[:n_val]), np.sort(order[n_val:])
    basis_np, truncation = None, None
    if n_basis is not None:
        # the leading right singular vectors of the training traces, all components together
        # (the validation events stay unseen); uncentred: a mean would not survive the sums
        block = rtz[tr_ev].reshape(-1, n_t) / scale
        _, _, vt = np.linalg.svd(block, full_matrices=False)
        basis_np = vt[:n_basis]
        res = (block - (block @ basis_np.T) @ basis_np).reshape(len(tr_ev), -1)
        per_event = np.sqrt(np.mean(res ** 2, axis=1)) * scale
        truncation = {"rms": float(np.sqrt(np.mean(per_event ** 2))),
                      "rms_per_event_max": float(per_event.max()),
                      "max_abs": float(np.abs(res).max() * scale)}
        _log.info("time basis of %d: truncation rms %.3g, worst event %.3g, max |.| %.3g "
                  "(output units)", n_basis, truncation["rms"],
                  truncation["rms_per_event_max"], truncation["max_abs"])

    def flat(ev: np.ndarray) -> tuple[np.ndarray, ...]:
        return (r_geo[ev].reshape(-1).astype(np.float32),
                np.cos(phi[ev]).reshape(-1).astype(np.float32),
                np.sin(phi[ev]).reshape(-1).astype(np.float32),
                depth[ev].reshape(-1).astype(np.float32),
                (rtz[ev] / scale).reshape(-1, 3, n_t).astype(np.float32))

    r_tr, c_tr, s_tr, d_tr, y_tr = flat(tr_ev)
    r_va, c_va, s_va, d_va, y_va = flat(val_ev)
    basis = None
    if basis_np is not None:  # train on the coefficients: the same loss up to a constant
        y_tr = y_tr @ basis_np.T.astype(np.float32)
        basis = jnp.asarray(basis_np, jnp.float32)
    key = jax.random.PRNGKey(seed)
    net = init_mlp(key, [2, *hidden, n_kernel_outputs(structure)], activation)
    net = jax.tree_util.tree_map(jnp.asarray, net)
    s = structure
    n_train = len(r_tr)
    steps_per_epoch = max(1, n_train // batch_size)
    total = epochs * steps_per_epoch
    sched = optax.warmup_cosine_decay_schedule(0.0, learning_rate, min(200, total // 10 + 1),
                                               total, learning_rate * 1e-3)
    opt = optax.adam(sched)
    state = opt.init(net)

    def loss_fn(n: MLP, r: Array, c: Array, sn: Array, d: Array, y: Array) -> Array:
        # the mean squared residual over (component, time), less the basis' truncation
        res = _components(n, s, r, c, sn, d, False) - y
        return jnp.sum(res ** 2) / (y.shape[0] * 3 * n_t)

    @jax.jit
    def step(n: MLP, st: Any, r: Array, c: Array, sn: Array, d: Array, y: Array) -> tuple:
        value, grad = jax.value_and_grad(loss_fn)(n, r, c, sn, d, y)
        updates, st = opt.update(grad, st, n)
        return optax.apply_updates(n, updates), st, value

    def predict_rtz(n: MLP, r: Array, c: Array, sn: Array, d: Array) -> Array:
        out = _components(n, s, r, c, sn, d, False)
        return out if basis is None else out @ basis

    predict_val = jax.jit(predict_rtz)

    def val_rms(n: MLP) -> np.ndarray:
        if n_val == 0:
            return np.zeros(0)
        out = np.concatenate([np.asarray(predict_val(n, r_va[i:i + 4096], c_va[i:i + 4096],
                                                     s_va[i:i + 4096], d_va[i:i + 4096]))
                              for i in range(0, len(r_va), 4096)])
        res = (out - y_va).reshape(n_val, -1)
        return np.sqrt(np.mean(res ** 2, axis=1)) * scale  # per event, output units

    best, best_net, best_epoch, history = np.inf, net, -1, []
    t0 = time.perf_counter()
    for epoch in range(epochs):
        idx = np.random.default_rng([seed, epoch]).permutation(n_train)
        for i in range(steps_per_epoch):
            j = idx[i * batch_size:(i + 1) * batch_size]
            net, state, value = step(net, state, r_tr[j], c_tr[j], s_tr[j], d_tr[j], y_tr[j])
        if epoch % log_every == 0 or epoch == epochs - 1 or epoch >= 0.8 * epochs:
            rms = val_rms(net)
            metric = float(np.sqrt(np.mean(rms ** 2))) if rms.size else float(value)
            history.append([epoch, float(value), metric])
            if epoch % log_every == 0 or epoch == epochs - 1:
                _log.info("epoch %d: train loss %.4g, validation rms %.4g (p99 %.4g), %.0f s",
                          epoch, float(value), metric,
                          float(np.percentile(rms, 99)) if rms.size else float("nan"),
                          time.perf_counter() - t0)
            if metric < best:
                best, best_net, best_epoch = metric, net, epoch
    rms = val_rms(best_net)
    accuracy: dict[str, Any] = {}
    if rms.size:
        accuracy = {"n_val_events": int(n_val), "rms_residual_per_event": {
            "p50": float(np.median(rms)), "p99": float(np.percentile(rms, 99)),
            "max": float(rms.max())}}
        if noise_sigma:
            accuracy["rms_residual_over_sigma"] = {
                k: v / noise_sigma for k, v in accuracy["rms_residual_per_event"].items()}
            accuracy["noise_sigma"] = float(noise_sigma)
    net_np = jax.tree_util.tree_map(lambda a: np.asarray(a, np.float32), best_net)
    meta = {**dict(metadata or {}), "training": {
        "n_events": int(n_ev), "n_train_events": int(len(tr_ev)), "n_val_events": int(n_val),
        "n_train": int(len(tr_ev)), "n_val": int(n_val),
        "epochs": int(epochs), "best_epoch": int(best_epoch), "batch_size": int(batch_size),
        "learning_rate": float(learning_rate), "seed": int(seed), "hidden": list(hidden),
        "activation": activation, "seconds": round(time.perf_counter() - t0, 1),
        **({"time_basis_truncation": truncation} if truncation else {}),
        "best_val_loss": float(best), "epochs_per_stage": [int(epochs)],
        "history": history}, "accuracy": accuracy}
    ident = Affine(shift=np.zeros(3), scale=np.ones(3))
    out_tf = (() if basis_np is None
              else (PCA(basis_np.astype(np.float32)),))
    if axes is None:
        axes = [("receiver", list(range(n_rec))), ("component", ["x", "y", "z"]),
                ("time", list(range(n_t)))]
    return make_emulator(net_np, ident, out_tf, list(parameters), box, None, "azimuthal",
                         axes=axes,
                         quantity=dict(quantity) if quantity else None, metadata=meta,
                         structure=structure)


def structure_json(structure: Mapping[str, Any]) -> str:
    """Canonical JSON of a checked structure (the static field of the emulator)."""
    return json.dumps(check_structure(structure), sort_keys=True)


_DATA_KEYS = ("store", "extra_stores", "quantity", "max_samples")
_EMU_KEYS = ("kind", "hidden", "activation", "scenario", "receivers", "mechanism", "n_basis")
_TRAIN_KEYS = ("epochs", "batch_size", "learning_rate", "val_fraction", "seed")


def parse_azimuthal_config(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Check an ``emulator.kind: azimuthal`` training config (keys, types, the receivers);
    return its settings with defaults filled in. Opens no store.

    Raises:
        ConfigError: naming the field.
    """
    from .._config import check_keys, get
    from .._errors import ConfigError

    check_keys(raw, ("data", "emulator", "training", "output"))
    data = get(raw, "data", dict)
    check_keys(data, _DATA_KEYS, "data")
    emu = get(raw, "emulator", dict)
    check_keys(emu, _EMU_KEYS, "emulator")
    tr = get(raw, "training", dict, {})
    check_keys(tr, _TRAIN_KEYS, "training")
    out = get(raw, "output", dict)
    check_keys(out, ("path", "description"), "output")
    if ("scenario" in emu) == ("receivers" in emu):
        raise ConfigError("emulator", "give the receivers as emulator.scenario (\"\" for the "
                          "packaged seismic scenario, or a scenario JSON) or as "
                          "emulator.receivers: [[east, north], ...], exactly one of them")
    sigma, sc = None, None
    if "scenario" in emu:
        from ..seismic import load_scenario

        sc = load_scenario(get(emu, "scenario", str, where="emulator") or None)
        receivers, sigma = np.asarray(sc.receivers, np.float64), float(sc.sigma)
    else:
        receivers = np.asarray(emu["receivers"], np.float64)
        if receivers.ndim != 2 or receivers.shape[1] != 2 or not np.all(np.isfinite(receivers)):
            raise ConfigError("emulator.receivers", f"must be [[east, north], ...] finite "
                              f"numbers, got shape {receivers.shape}")
    hidden = get(emu, "hidden", list, [192, 192, 192], where="emulator")
    if not hidden or not all(isinstance(h, int) and h > 0 for h in hidden):
        raise ConfigError("emulator.hidden", f"must be a list of positive widths, got {hidden}")
    mech, phases = emu.get("mechanism"), None
    if mech == "scenario":
        if sc is None:
            raise ConfigError("emulator.mechanism", "'scenario' takes the mechanism of "
                              "emulator.scenario; with emulator.receivers give {strike, dip, "
                              "rake} in degrees")
        phases = mechanism_phases(sc.strike, sc.dip, sc.rake)
    elif isinstance(mech, Mapping):
        check_keys(mech, ("strike", "dip", "rake"), "emulator.mechanism")
        try:
            angles = [float(mech[k]) for k in ("strike", "dip", "rake")]
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError("emulator.mechanism", f"needs strike, dip and rake in degrees "
                              f"(numbers), got {dict(mech)}") from exc
        phases = mechanism_phases(*angles)
    elif mech is not None:
        raise ConfigError("emulator.mechanism", f"must be 'scenario' or {{strike, dip, rake}} "
                          f"(degrees) of a fixed double couple, or absent (any source: 15 "
                          f"kernels); got {mech!r}")
    n_basis = get(emu, "n_basis", int, None, where="emulator")
    if n_basis is not None and n_basis < 1:
        raise ConfigError("emulator.n_basis", f"must be a positive integer, got {n_basis}")
    return {
        "store": get(data, "store", str, None, where="data"),
        "extra_stores": [str(p) for p in get(data, "extra_stores", list, [], where="data")],
        "quantity": get(data, "quantity", str, "traces", where="data"),
        "max_samples": get(data, "max_samples", int, None, where="data"),
        "receivers": receivers, "noise_sigma": sigma, "hidden": tuple(hidden),
        "phases": phases, "n_basis": n_basis,
        "activation": get(emu, "activation", str, "silu", where="emulator"),
        "epochs": get(tr, "epochs", int, 150, where="training"),
        "batch_size": get(tr, "batch_size", int, 256, where="training"),
        "learning_rate": get(tr, "learning_rate", float, 2e-3, where="training"),
        "val_fraction": get(tr, "val_fraction", float, 0.1, where="training"),
        "seed": get(tr, "seed", int, 0, where="training"),
        "path": get(out, "path", str, where="output"),
        "description": get(out, "description", str, "", where="output"),
    }


def train_azimuthal_from_config(raw: Mapping[str, Any], *, store: str | None = None,
                                overwrite_package: bool = False) -> Any:
    """``cosmoemu train`` for ``emulator.kind: azimuthal`` (seismograms of a hypocentre).

    Config sections: ``data`` (``store``, which sets the box; optional ``extra_stores``: more
    events inside that box, e.g. a denser design where the traces change fastest;
    ``quantity``; optional ``max_samples``: the first N events of ``store``), ``emulator``
    (``kind: azimuthal``, ``hidden``, ``activation``, and the receivers:
    ``scenario`` — ``""`` for the packaged seismic scenario or a scenario JSON path, which also
    gives the noise sigma the accuracy is reported in — or ``receivers: [[east, north], ...]``;
    optional ``mechanism``: ``scenario`` or ``{strike, dip, rake}`` degrees of a fixed double
    couple (8 kernels, see :func:`mechanism_phases`); optional ``n_basis``: kernels as that
    many coefficients of a time basis),
    ``training`` (``epochs``, ``batch_size``, ``learning_rate``, ``val_fraction``, ``seed``),
    ``output`` (``path``, ``description``).

    Returns:
        A :class:`~cosmoemu.emulator.TrainResult`; the model is written to ``output.path``.

    Raises:
        ConfigError: naming the field, before any training.
    """
    import shlex
    import sys
    from pathlib import Path

    from .._errors import ConfigError
    from ..data import open_store
    from ._io import save_emulator
    from ._train import TrainResult
    from ._trainconfig import _check_output

    c = parse_azimuthal_config(raw)
    out_path = Path(c["path"])
    _check_output(out_path, overwrite_package)
    path = store if store is not None else c["store"]
    if path is None:
        raise ConfigError("data.store", "give the training store (or --store)")
    ds = open_store(path)
    q = c["quantity"]
    if q not in ds.quantities:
        raise ConfigError("data.quantity", f"store has {list(ds.quantities)}, not {q!r}")
    receivers = c["receivers"]
    rows = np.arange(len(ds))
    if c["max_samples"] is not None:
        rows = rows[:c["max_samples"]]
    if rows.size < 10:
        raise ConfigError("data", f"only {rows.size} events in the store")
    names = tuple(ds.param_names)
    if len(names) != 3:
        raise ConfigError("data.store", f"an azimuthal emulator needs 3 parameters (east, "
                          f"north, depth); the store has {list(names)}")
    box = ds.box
    if box is None:
        raise ConfigError("data.store", "the store records no design box")
    theta = ds.params(rows)
    y = ds.load(q, rows)
    for i, extra_path in enumerate(c["extra_stores"]):
        es = open_store(extra_path)
        where = f"data.extra_stores[{i}]"
        if tuple(es.param_names) != names or q not in es.quantities:
            raise ConfigError(where, f"has parameters {list(es.param_names)} and quantities "
                              f"{list(es.quantities)}; needs {list(names)} and {q!r}")
        ex = es.params()
        lo = np.array([box[p][0] for p in names])
        hi = np.array([box[p][1] for p in names])
        if np.any(ex < lo) or np.any(ex > hi):
            raise ConfigError(where, "holds events outside the box of data.store")
        theta = np.concatenate([theta, ex])
        y = np.concatenate([y, es.load(q)])
    if y.shape[1:3] != (len(receivers), 3):
        raise ConfigError("data.quantity", f"{q} has shape {y.shape[1:]}, expected "
                          f"({len(receivers)} receivers, 3 components, n_t)")
    result_emu = train_azimuthal(
        theta, y, receivers, parameters=names, box=box, hidden=c["hidden"],
        activation=c["activation"], epochs=c["epochs"], batch_size=c["batch_size"],
        learning_rate=c["learning_rate"], val_fraction=c["val_fraction"], seed=c["seed"],
        noise_sigma=c["noise_sigma"], phases=c["phases"], n_basis=c["n_basis"],
        quantity={"name": q, "units": ds.units(q)},
        axes=[(a, v if np.ndim(v) == 1 else np.arange(len(v)), u) for a, v, u in ds.axes(q)],
        metadata={"provenance": {
            "config": json.loads(json.dumps(dict(raw))),
            "command": " ".join(shlex.quote(a) for a in sys.argv) if sys.argv else "",
            "store_fingerprint": ds.fingerprint(), "n_samples": int(len(theta)),
            "extra_stores": c["extra_stores"]}},
    )
    files = save_emulator(result_emu, out_path, description=c["description"])
    return TrainResult(emulator=result_emu, history={}, train_indices=np.zeros(0, int),
                       val_indices=np.zeros(0, int), summary={"files": [str(f) for f in files]})
