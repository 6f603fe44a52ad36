"""The :class:`Emulator`: parameters -> outputs (a spectrum, P(k, z), any array), in JAX.

An emulator is a pytree (Equinox module): the network, the input standardisation and the output
transform chain are arrays; names, box, output axes and quantity are static. So
``jax.jit(emu.predict)``, ``jax.grad`` of a likelihood built on it and ``jax.vmap`` need no
special code.

Outputs may have several named axes (:class:`Axis`), e.g. ``(z, k)`` for P(k, z) or
``(receiver, component, time)`` for a seismic trace. The network and the output transforms work
on the flattened outputs (C order, the last axis fastest); ``predict`` returns
``(..., *output_shape)``.
"""

from __future__ import annotations

import copy
import functools
import json
import logging
import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import Array
from jax.typing import ArrayLike

from .._errors import OutOfBoxError, did_you_mean
from ._axes import Axis, as_axes
from ._network import MLP, n_polynomial_features
from ._transforms import PCA, Affine, Transform, decode_chain

_logger = logging.getLogger(__name__)

__all__ = ["Emulator", "Policy", "POLICIES", "output_size"]

Policy = Literal["raise", "warn", "clip", "nan"]
POLICIES: tuple[str, ...] = ("raise", "warn", "clip", "nan")


@functools.lru_cache(maxsize=64)
def _parse_json(text: str) -> Any:
    return json.loads(text)


def output_size(network: MLP, chain: Sequence[Transform]) -> int:
    """Number of (flattened) outputs the network and the output transforms produce.

    Raises:
        ValueError: the transforms' array shapes do not chain (a corrupt or mismatched model).
    """
    size = int(network.sizes[-1])
    for i, step in enumerate(chain):
        if isinstance(step, Affine):
            if np.shape(step.shift) not in ((size,), ()) or np.shape(step.scale) not in (
                (size,), ()
            ):
                raise ValueError(f"output transform {i} (affine) has shift/scale of shape "
                                 f"{np.shape(step.shift)}/{np.shape(step.scale)}; "
                                 f"{size} values arrive there")
        elif isinstance(step, PCA):
            c = np.shape(step.components)
            if len(c) != 2 or c[0] != size:
                raise ValueError(f"output transform {i} (pca) has components of shape {c}; "
                                 f"{size} coefficients arrive there")
            size = int(c[1])
    return size


class Emulator(eqx.Module):
    """A trained emulator mapping parameters to modes.

    Build one with :func:`cosmoemu.train_emulator` or load one with
    :func:`cosmoemu.load_emulator`; do not call the constructor directly.

    Attributes:
        network: the :class:`~cosmoemu.emulator.MLP`.
        input_transform: standardisation of the inputs (``encode``: physical -> network).
        output_transforms: steps from network output to physical units, in order.
        parameters: input names, in the order of the last axis of an array input.
        kind: ``"dense"`` (network outputs every mode), ``"pca"`` (PCA coefficients) or
            ``"azimuthal"`` (seismograms of a point source in a layered medium: the network
            gives azimuthal-order kernels of distance and depth, see :attr:`structure`).
        region: ``None``, or an ellipsoid inside the box where the emulator is valid (a
            local emulator of a posterior region); see :attr:`region`.

    Example:
        >>> emu = cosmoemu.load_emulator("lcdm_cmb_tt")            # doctest: +SKIP
        >>> cl = emu.predict({"omega_b": 0.0224, "omega_cdm": 0.12, "h": 0.674,
        ...                   "tau_reio": 0.054, "n_s": 0.965, "ln10^{10}A_s": 3.044})
    """

    network: MLP
    input_transform: Affine
    output_transforms: tuple[Transform, ...]
    parameters: tuple[str, ...] = eqx.field(static=True)
    kind: str = eqx.field(static=True)
    _box: tuple[tuple[float, float], ...] = eqx.field(static=True)
    # JSON text (hash cached by Python) holding the output axes, the quantity and metadata
    _meta: str = eqx.field(static=True)
    # optional ellipsoid: (centre, whitening matrix L^-1 with cov = L L^T, radius), static
    _region: tuple | None = eqx.field(static=True, default=None)
    # kind "azimuthal" only: canonical JSON of its geometry (receivers, feature scalings), see
    # cosmoemu.emulator._azimuthal
    _structure: str | None = eqx.field(static=True, default=None)

    # Identity hash and equality (Equinox would hash the arrays and fail), so that a bound
    # method is hashable and `jax.jit(emu.predict)` works with the emulator as a constant.
    def __hash__(self) -> int:
        return id(self)

    def __eq__(self, other: object) -> bool:
        return self is other

    # ----------------------------------------------------------------- names and metadata
    @property
    def box(self) -> dict[str, tuple[float, float]]:
        """Training box ``{name: (low, high)}``; outside it ``predict`` raises by default."""
        return dict(zip(self.parameters, self._box, strict=True))

    @property
    def region(self) -> dict[str, Any] | None:
        """The validity ellipsoid, or None (the box alone).

        ``{"center": {name: value}, "covariance": (n_params, n_params) list, "radius": r}``:
        inputs with Mahalanobis distance sqrt((x-c)^T C^-1 (x-c)) > r count as outside, like
        inputs outside the box.
        """
        if self._region is None:
            return None
        return dict(_parse_json(self._region[3]))

    def _radius(self, x: Array) -> Array:
        """Mahalanobis distance of ``x`` ``(..., n_params)`` from the region's centre."""
        center, whiten, _, _ = self._region
        c = jnp.asarray(np.array(center), x.dtype)
        w = jnp.asarray(np.array(whiten), x.dtype)
        return jnp.sqrt(jnp.sum(((x - c) @ w.T) ** 2, axis=-1))

    @property
    def structure(self) -> dict[str, Any] | None:
        """Kind ``"azimuthal"``: its geometry (``receivers`` ``(n, 2)``, ``n_times``, feature
        scalings, ``output_scale``); None for the other kinds."""
        return None if self._structure is None else dict(_parse_json(self._structure))

    @property
    def axes(self) -> tuple[Axis, ...]:
        """The named axes of the outputs, e.g. ``(Axis("z", ...), Axis("k", ..., "1/Mpc"))``."""
        return _axes(self._meta)

    @property
    def output_shape(self) -> tuple[int, ...]:
        """Shape of one prediction, ``(n_ell,)`` or ``(n_z, n_k)``, ...: one length per axis."""
        return tuple(len(a) for a in self.axes)

    @property
    def modes(self) -> np.ndarray:
        """Labels of the last output axis: ell (ints), k values (floats) or output names."""
        return self.axes[-1].array

    @property
    def mode_label(self) -> str:
        """Name of the last output axis, e.g. ``"ell"``, ``"k"`` or ``"name"``."""
        return self.axes[-1].name

    @property
    def quantity(self) -> str | None:
        """What is emulated: the data store's product name (``"tt"``, ``"pk_nonlin"``,
        ``"derived"``...) or the name given at training; None when it was never recorded."""
        q = _parse_json(self._meta).get("quantity")
        return None if q is None else str(q["name"])

    @property
    def units(self) -> str:
        """Units of the outputs (``""`` when dimensionless or not recorded)."""
        q = _parse_json(self._meta).get("quantity")
        return "" if q is None else str(q.get("units", ""))

    @property
    def metadata(self) -> dict[str, Any]:
        """Everything else recorded with the model: provenance, accuracy, description.

        A fresh deep copy each call: editing it never changes the model's record.
        """
        meta = copy.deepcopy(_parse_json(self._meta))
        for key in ("axes", "quantity"):
            meta.pop(key, None)
        return meta

    @property
    def n_params(self) -> int:
        return len(self.parameters)

    @property
    def n_modes(self) -> int:
        """Length of the last output axis (all outputs of a one-axis emulator)."""
        return len(self.axes[-1])

    @property
    def n_outputs(self) -> int:
        """Number of outputs per prediction, the product of :attr:`output_shape`."""
        return math.prod(self.output_shape)

    def __repr__(self) -> str:
        net = self.network
        sizes = "x".join(map(str, net.sizes))
        arch = (f"activation={net.activation!r}" if len(net.sizes) > 2 else "linear")
        if net.input_degree > 1:
            arch += f", input_degree={net.input_degree}"
        region = ", region=ellipsoid" if self._region is not None else ""
        shape = self.output_shape
        out = (f"n_modes={shape[0]}" if len(shape) == 1 else
               "outputs=(" + ", ".join(f"{a.name}: {len(a)}" for a in self.axes) + ")")
        quantity = f"quantity={self.quantity!r}, " if self.quantity else ""
        return (
            f"Emulator({quantity}kind={self.kind!r}, parameters={self.parameters}, "
            f"{out}, network={sizes}, {arch}{region})"
        )

    # ----------------------------------------------------------------- inputs
    def as_array(self, params: Mapping[str, ArrayLike] | ArrayLike) -> Array:
        """Parameters as an array ``(..., n_params)`` in :attr:`parameters` order.

        Args:
            params: a mapping name -> scalar/array (broadcast together), or an array whose last
                axis holds the parameters in :attr:`parameters` order.

        Raises:
            KeyError: a name is missing or unknown (with a suggestion).
            ValueError: the last axis of an array has the wrong length.
        """
        if isinstance(params, Mapping):
            unknown = [k for k in params if k not in self.parameters]
            missing = [p for p in self.parameters if p not in params]
            if unknown or missing:
                msg = [f"expected parameters ({', '.join(self.parameters)})"]
                for k in unknown:
                    msg.append(f"got unknown '{k}'{did_you_mean(k, missing or self.parameters)}")
                if missing:
                    msg.append(f"missing {', '.join(repr(m) for m in missing)}")
                raise KeyError("; ".join(msg))
            values = [jnp.asarray(params[p]) for p in self.parameters]
            dtype = jnp.result_type(*values, float)
            values = jnp.broadcast_arrays(*[v.astype(dtype) for v in values])
            return jnp.stack(values, axis=-1)
        x = jnp.asarray(params)
        if x.ndim == 0 or x.shape[-1] != self.n_params:
            raise ValueError(
                f"expected an array of shape (..., {self.n_params}) with parameters in the order "
                f"({', '.join(self.parameters)}); got shape {tuple(x.shape)}"
            )
        return x.astype(jnp.result_type(x, float))

    def in_box(self, params: Mapping[str, ArrayLike] | ArrayLike) -> Array:
        """``True`` where every parameter lies in the training box (edges included), and
        inside the :attr:`region` ellipsoid when there is one; jit-safe.

        Returns:
            Boolean array of the batch shape ``(...)``.
        """
        x = self.as_array(params)
        lo, hi = (jnp.asarray(np.array(b), x.dtype) for b in zip(*self._box, strict=True))
        inside = jnp.all((x >= lo) & (x <= hi), axis=-1)
        if self._region is not None:
            inside = inside & (self._radius(x) <= self._region[2])
        return inside

    def _check_box_concrete(self, x: np.ndarray, policy: str) -> None:
        lo, hi = (np.asarray(b, x.dtype) for b in zip(*self._box, strict=True))
        bad = (x < lo) | (x > hi) | ~np.isfinite(x)
        if not bad.any():
            self._check_region_concrete(x, policy)
            return
        flat = bad.reshape(-1, self.n_params)
        rows = np.flatnonzero(flat.any(axis=1))
        row = rows[0]
        j = int(np.flatnonzero(flat[row])[0])
        value = x.reshape(-1, self.n_params)[row, j]
        msg = (
            f"parameter '{self.parameters[j]}' = {float(value):.6g} is outside the emulator's "
            "training box "
            f"[{self._box[j][0]}, {self._box[j][1]}]"
            + (
                f" (row {int(row)}; {len(rows)} of {flat.shape[0]} rows are outside)"
                if flat.shape[0] > 1
                else ""
            )
            + ". Emulators do not extrapolate: keep inputs in the box, or pass "
            "policy='clip' or policy='nan' (or 'warn') to predict."
        )
        if policy == "raise":
            raise OutOfBoxError(msg)
        warnings.warn(msg, stacklevel=3)

    def _check_region_concrete(self, x: np.ndarray, policy: str) -> None:
        if self._region is None:
            return
        radius = np.asarray(self._radius(jnp.asarray(x))).reshape(-1)
        limit = self._region[2]
        out = np.flatnonzero(radius > limit)
        if out.size == 0:
            return
        row = int(out[0])
        values = dict(zip(self.parameters, x.reshape(-1, self.n_params)[row].tolist(),
                          strict=True))
        msg = (
            f"parameters {values} "
            f"are {radius[row]:.3g} sigma from the centre of the emulator's validity ellipsoid, "
            f"beyond its radius {limit:g}"
            + (f" (row {row}; {out.size} of {radius.size} rows are outside)"
               if radius.size > 1 else "")
            + ". This is a local emulator (see emulator.region); use a whole-box emulator "
            "there, or pass policy='clip' or policy='nan' (or 'warn') to predict."
        )
        if policy == "raise":
            raise OutOfBoxError(msg)
        warnings.warn(msg, stacklevel=4)

    # ----------------------------------------------------------------- prediction
    def predict(
        self, params: Mapping[str, ArrayLike] | ArrayLike, policy: Policy = "raise"
    ) -> Array:
        """Emulated modes in physical units (the spectrum, not its log).

        Args:
            params: mapping name -> scalar/array (any broadcastable batch shape), or an array
                ``(..., n_params)`` in :attr:`parameters` order. The dtype of the inputs sets the
                dtype of the computation (float32 by default, float64 under ``jax.enable_x64``).
            policy: what to do outside the training box (or :attr:`region`). ``"raise"``
                (default): an
                :class:`~cosmoemu.OutOfBoxError` naming the parameter, value and box (inside
                ``jit`` raised when the program runs: JAX wraps it in a ``JaxRuntimeError``
                whose text ends with the message, which is also logged as an error first);
                ``"warn"``: warn and extrapolate; ``"clip"``: clip the inputs to the box;
                ``"nan"``: NaN outputs for rows outside the box (use this, or :meth:`in_box`,
                to return ``-inf`` from a jitted likelihood).

        Returns:
            Array ``(..., *output_shape)``: ``(..., n_modes)`` for one output axis,
            ``(..., n_z, n_k)`` for P(k, z), in :attr:`units`.
        """
        return self._forward(self.guarded_inputs(params, policy))

    def guarded_inputs(
        self, params: Mapping[str, ArrayLike] | ArrayLike, policy: Policy = "raise"
    ) -> Array:
        """The inputs ``(..., n_params)`` after the box policy of :meth:`predict` (raise, warn,
        clip, or NaN rows outside); for composite models that run :meth:`_forward` themselves."""
        if policy not in POLICIES:
            raise ValueError(
                f"unknown policy {policy!r}{did_you_mean(str(policy), POLICIES)}; "
                f"allowed: {', '.join(POLICIES)}"
            )
        x = self.as_array(params)
        if policy in ("raise", "warn"):
            if isinstance(x, jax.core.Tracer):
                inside = self.in_box(x)
                if policy == "raise":
                    x = _raise_if_outside(self, x, inside)
                else:
                    jax.debug.callback(_warn_out_of_box, inside)
            else:
                self._check_box_concrete(np.asarray(x), policy)
        elif policy == "clip":
            lo, hi = (jnp.asarray(np.array(b), x.dtype) for b in zip(*self._box, strict=True))
            x = jnp.clip(x, lo, hi)
            if self._region is not None:  # then pull back towards the centre onto the surface
                c = jnp.asarray(np.array(self._region[0]), x.dtype)
                r = self._radius(x)[..., None]
                shrink = jnp.where(r > self._region[2], self._region[2] / r, 1.0)
                x = c + (x - c) * shrink
        if policy == "nan":  # NaN inputs give NaN outputs: cheaper than masking every mode
            x = jnp.where(self.in_box(x)[..., None], x, jnp.nan)
        return x

    def _forward(self, x: Array) -> Array:
        """Network and transforms, no box handling. ``x``: ``(..., n_params)`` physical."""
        if self._structure is not None:
            from ._azimuthal import azimuthal_forward

            return azimuthal_forward(self.network, _parse_json(self._structure), x,
                                     self.output_transforms)
        z = self.input_transform.encode_jax(x)
        y = decode_chain(self.output_transforms, self.network(z), x)
        shape = self.output_shape
        return y if len(shape) == 1 else y.reshape(*y.shape[:-1], *shape)

    def predict_numpy(
        self, params: Mapping[str, ArrayLike] | ArrayLike, policy: Policy = "raise"
    ) -> np.ndarray:
        """NumPy in, NumPy out: a jitted, cached :meth:`predict` for non-JAX callers."""
        x = np.asarray(self.as_array(params))
        mode = policy
        if policy in ("raise", "warn"):
            self._check_box_concrete(x, policy)
            mode = "none"  # checked here, in NumPy, with the full message
        return np.asarray(_predict_jit(self, x, mode))


def _raise_if_outside(emu: Emulator, x: Array, inside: Array) -> Array:
    """``x``, or (at run time, inside ``jit``) an :class:`OutOfBoxError` with the full message.

    Under ``jit`` the values exist only when the program runs, so the check is a host callback
    on the rows' values, called only when a row is outside (under ``vmap`` once per call with
    the whole batch: the callback then checks the values itself). JAX wraps an exception raised
    there in ``JaxRuntimeError: INTERNAL: CpuCallback error ...`` with the message at the end of
    a traceback, so the message (parameter, value and box first) is also logged as an error
    before the exception leaves the callback.
    """
    def host(values: np.ndarray) -> np.ndarray:
        values = np.asarray(values)
        try:
            emu._check_box_concrete(values, "raise")
        except OutOfBoxError as err:
            message = (f"{err} [raised inside jax.jit: JAX reports it as 'JaxRuntimeError: "
                       "INTERNAL: CpuCallback error'; in jitted code use policy='nan' (NaN "
                       "outside) or in_box()]")
            _logger.error("OutOfBoxError: %s", message)
            raise OutOfBoxError(message) from None
        return np.zeros(values.shape[:-1], values.dtype)

    # the check sees the values without their gradient (callbacks have no derivative) and
    # returns zeros of the batch shape, added to x so that it is a data dependency of the result;
    # under vmap one call receives the whole batch
    zero = jax.ShapeDtypeStruct(x.shape[:-1], x.dtype)
    flag = jax.lax.cond(
        jnp.all(inside),
        lambda v: jnp.zeros(v.shape[:-1], v.dtype),
        lambda v: jax.pure_callback(host, zero, v, vmap_method="expand_dims"),
        jax.lax.stop_gradient(x),
    )
    return x + flag[..., None]


def _warn_out_of_box(inside: np.ndarray) -> None:
    if not np.all(inside):
        warnings.warn(
            "parameters outside the emulator's training box (extrapolating)", stacklevel=2
        )


@functools.partial(jax.jit, static_argnames="policy")
def _predict_jit(emu: Emulator, x: Array, policy: str) -> Array:
    if policy == "none":
        return emu._forward(x)
    return emu.predict(x, policy=policy)  # type: ignore[arg-type]


def make_emulator(
    network: MLP,
    input_transform: Affine,
    output_transforms: Sequence[Transform],
    parameters: Sequence[str],
    box: Mapping[str, Sequence[float]] | Sequence[Sequence[float]],
    modes: Sequence[Any] | np.ndarray | None,
    kind: str,
    *,
    mode_label: str = "mode",
    axes: Any = None,
    quantity: str | Mapping[str, str] | None = None,
    metadata: Mapping[str, Any] | None = None,
    region: Mapping[str, Any] | None = None,
    structure: Mapping[str, Any] | None = None,
) -> Emulator:
    """Assemble an :class:`Emulator` from its parts (used by training and loading).

    Args:
        network, input_transform, output_transforms: the arrays.
        parameters: input names; ``box``: ``{name: (low, high)}`` or ``[(low, high), ...]``.
        modes: labels of a single output axis called ``mode_label``, or None with
        axes: the output axes (see :func:`as_axes`), for outputs with one or more axes.
        kind: ``"dense"`` or ``"pca"``.
        quantity: what is emulated, a name or ``{"name", "units"}``.
        metadata: JSON-able record (training, accuracy, description...).
        region: ``{"center": {name: value} or [values], "covariance": (n, n), "radius": r}``, an
            ellipsoid of validity inside the box (checked like the box), or None.
        structure: kind ``"azimuthal"`` only (required there): its geometry, see
            :func:`cosmoemu.emulator._azimuthal.check_structure`.

    Raises:
        ValueError: inconsistent box, region, axes, or array shapes (the network, the input
            standardisation and the output transforms must chain to the axes' sizes).
    """
    parameters = tuple(str(p) for p in parameters)
    if isinstance(box, Mapping):
        box_t = tuple((float(box[p][0]), float(box[p][1])) for p in parameters)
    else:
        box_t = tuple((float(lo), float(hi)) for lo, hi in box)
    for p, (lo, hi) in zip(parameters, box_t, strict=True):
        if not lo < hi:
            raise ValueError(f"box of '{p}' must have low < high, got [{lo}, {hi}]")
    if (modes is None) == (axes is None):
        raise ValueError("give the output labels as modes (one axis) or as axes, not both")
    axes_t = as_axes([Axis(mode_label, tuple(np.asarray(modes).tolist()))] if axes is None
                     else axes)
    shape = tuple(len(a) for a in axes_t)
    structure_t = None
    if (kind == "azimuthal") != (structure is not None):
        raise ValueError("kind 'azimuthal' needs a structure, and only it takes one")
    if structure is not None:
        from ._azimuthal import check_structure, n_kernel_outputs
        from ._transforms import PCA

        checked = check_structure(structure)
        n_rec, n_t = len(checked["receivers"]), checked["n_times"]
        if shape != (n_rec, 3, n_t) or network.input_degree != 1:
            raise ValueError(f"an azimuthal emulator has outputs (receiver, component, time) = "
                             f"({n_rec}, 3, {n_t}); got axes {shape}")
        k_basis = checked.get("n_basis")
        want = "no output transform" if k_basis is None else \
            f"one PCA output transform of ({k_basis}, {n_t}) components (its time basis)"
        ok = (not output_transforms) if k_basis is None else (
            len(output_transforms) == 1 and isinstance(output_transforms[0], PCA)
            and tuple(np.shape(output_transforms[0].components)) == (k_basis, n_t))
        if not ok:
            raise ValueError(f"this azimuthal emulator takes {want}; got "
                             f"{[type(o).__name__ for o in output_transforms]}")
        if network.sizes[0] != 2 or network.sizes[-1] != n_kernel_outputs(checked):
            raise ValueError(f"an azimuthal emulator's network maps 2 inputs to "
                             f"{n_kernel_outputs(checked)} kernels; got sizes {network.sizes}")
        if len(parameters) != 3:
            raise ValueError(f"an azimuthal emulator takes (east, north, depth), got {parameters}")
        structure_t = json.dumps(checked, sort_keys=True)
    n_out = (math.prod(shape) if structure is not None
             else output_size(network, tuple(output_transforms)))
    if n_out != math.prod(shape):
        raise ValueError(f"the network and output transforms give {n_out} outputs; the axes "
                         f"{', '.join(f'{a.name} ({len(a)})' for a in axes_t)} hold "
                         f"{math.prod(shape)}")
    n_in = (network.sizes[0] if structure is not None
            else n_polynomial_features(len(parameters), network.input_degree))
    if network.sizes[0] != n_in or np.shape(input_transform.shift) != (len(parameters),):
        raise ValueError(f"the network takes {network.sizes[0]} inputs and the input "
                         f"standardisation {np.shape(input_transform.shift)}; {len(parameters)} "
                         f"parameters (degree {network.input_degree}) need {n_in} and "
                         f"({len(parameters)},)")
    if isinstance(quantity, str):
        quantity = {"name": quantity, "units": ""}
    elif quantity is not None:
        quantity = {"name": str(quantity["name"]), "units": str(quantity.get("units", ""))}
    meta = {**dict(metadata or {}), "axes": [a.to_json() for a in axes_t],
            "quantity": quantity}
    region_t = None if region is None else _region_tuple(region, parameters, box_t)
    return Emulator(
        network=network,
        input_transform=input_transform,
        output_transforms=tuple(output_transforms),
        parameters=parameters,
        kind=kind,
        _box=box_t,
        _meta=json.dumps(meta, sort_keys=True),
        _region=region_t,
        _structure=structure_t,
    )


@functools.lru_cache(maxsize=64)
def _axes(text: str) -> tuple[Axis, ...]:
    return tuple(Axis.from_json(a) for a in _parse_json(text)["axes"])


def _region_tuple(region: Mapping[str, Any], parameters: tuple[str, ...],
                  box: tuple[tuple[float, float], ...]) -> tuple:
    """Check a region description; ``(centre, whitening, radius, canonical JSON)``."""
    unknown = set(region) - {"center", "covariance", "radius"}
    if unknown or not {"center", "covariance", "radius"} <= set(region):
        raise ValueError("region must be {center, covariance, radius}, got keys "
                         f"{sorted(region)}")
    center = region["center"]
    if isinstance(center, Mapping):
        missing = [p for p in parameters if p not in center]
        if missing or len(center) != len(parameters):
            raise ValueError(f"region.center must give exactly {parameters}, got {sorted(center)}")
        center = [center[p] for p in parameters]
    c = np.asarray(center, np.float64)
    cov = np.asarray(region["covariance"], np.float64)
    n = len(parameters)
    radius = float(region["radius"])
    if c.shape != (n,) or cov.shape != (n, n):
        raise ValueError(f"region.center must have {n} values and region.covariance shape "
                         f"({n}, {n}); got {c.shape} and {cov.shape}")
    if not np.allclose(cov, cov.T) or np.any(np.linalg.eigvalsh(cov) <= 0):
        raise ValueError("region.covariance must be symmetric and positive definite")
    if not radius > 0:
        raise ValueError(f"region.radius must be > 0, got {radius}")
    lo, hi = np.array(box).T
    if np.any(c < lo) or np.any(c > hi):
        raise ValueError("region.center lies outside the box")
    whiten = np.linalg.inv(np.linalg.cholesky(cov))
    canon = {"center": dict(zip(parameters, c.tolist(), strict=True)),
             "covariance": cov.tolist(), "radius": radius}
    return (tuple(c.tolist()), tuple(map(tuple, whiten.tolist())), radius,
            json.dumps(canon, sort_keys=True))
