"""The :class:`Emulator`: parameters -> modes (a spectrum or any vector), in JAX.

An emulator is a pytree (Equinox module): the network, the input standardisation and the output
transform chain are arrays; names, box and modes are static. So ``jax.jit(emu.predict)``,
``jax.grad`` of a likelihood built on it and ``jax.vmap`` need no special code.
"""

from __future__ import annotations

import functools
import json
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
from ._network import MLP
from ._transforms import Affine, Transform, decode_chain

__all__ = ["Emulator", "Policy", "POLICIES"]

Policy = Literal["raise", "warn", "clip", "nan"]
POLICIES: tuple[str, ...] = ("raise", "warn", "clip", "nan")


@functools.lru_cache(maxsize=64)
def _parse_json(text: str) -> Any:
    return json.loads(text)


class Emulator(eqx.Module):
    """A trained emulator mapping parameters to modes.

    Build one with :func:`cosmoemu.train_emulator` or load one with
    :func:`cosmoemu.load_emulator`; do not call the constructor directly.

    Attributes:
        network: the :class:`~cosmoemu.emulator.MLP`.
        input_transform: standardisation of the inputs (``encode``: physical -> network).
        output_transforms: steps from network output to physical units, in order.
        parameters: input names, in the order of the last axis of an array input.
        kind: ``"dense"`` (network outputs every mode) or ``"pca"`` (PCA coefficients).
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
    # JSON text (hash cached by Python) holding modes, mode label and metadata
    _meta: str = eqx.field(static=True)
    # optional ellipsoid: (centre, whitening matrix L^-1 with cov = L L^T, radius), static
    _region: tuple | None = eqx.field(static=True, default=None)

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
    def modes(self) -> np.ndarray:
        """Mode labels: ell (ints), k values (floats) or output names (strings)."""
        return np.asarray(_parse_json(self._meta)["modes"])

    @property
    def mode_label(self) -> str:
        """What the modes are, e.g. ``"ell"``, ``"k [1/Mpc]"`` or ``"name"``."""
        return str(_parse_json(self._meta).get("mode_label", "mode"))

    @property
    def metadata(self) -> dict[str, Any]:
        """Everything else recorded with the model: provenance, accuracy, description."""
        meta = dict(_parse_json(self._meta))
        meta.pop("modes", None)
        return meta

    @property
    def n_params(self) -> int:
        return len(self.parameters)

    @property
    def n_modes(self) -> int:
        return len(_parse_json(self._meta)["modes"])

    def __repr__(self) -> str:
        net = self.network
        sizes = "x".join(map(str, net.sizes))
        arch = (f"activation={net.activation!r}" if len(net.sizes) > 2 else "linear")
        if net.input_degree > 1:
            arch += f", input_degree={net.input_degree}"
        region = ", region=ellipsoid" if self._region is not None else ""
        return (
            f"Emulator(kind={self.kind!r}, parameters={self.parameters}, "
            f"n_modes={self.n_modes}, network={sizes}, {arch}{region})"
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
                ``jit`` a runtime error, with no value in the message); ``"warn"``: warn and
                extrapolate; ``"clip"``: clip the inputs to the box; ``"nan"``: NaN outputs for
                rows outside the box (use this, or :meth:`in_box`, to return ``-inf`` from a
                jitted likelihood).

        Returns:
            Array ``(..., n_modes)``.
        """
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
                    x = eqx.error_if(
                        x,
                        ~jnp.all(inside),
                        "parameters outside the emulator's training box (or validity region) "
                        f"{self.box}; use policy='nan' or in_box() inside jitted code",
                    )
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
        return self._forward(x)

    def _forward(self, x: Array) -> Array:
        """Network and transforms, no box handling. ``x``: ``(..., n_params)`` physical."""
        z = self.input_transform.encode_jax(x)
        y = self.network(z)
        return decode_chain(self.output_transforms, y, x)

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
    modes: Sequence[Any] | np.ndarray,
    kind: str,
    *,
    mode_label: str = "mode",
    metadata: Mapping[str, Any] | None = None,
    region: Mapping[str, Any] | None = None,
) -> Emulator:
    """Assemble an :class:`Emulator` from its parts (used by training and loading).

    ``region``: ``{"center": {name: value} or [values], "covariance": (n, n), "radius": r}``, an
    ellipsoid of validity inside the box (checked like the box), or None.
    """
    parameters = tuple(str(p) for p in parameters)
    if isinstance(box, Mapping):
        box_t = tuple((float(box[p][0]), float(box[p][1])) for p in parameters)
    else:
        box_t = tuple((float(lo), float(hi)) for lo, hi in box)
    for p, (lo, hi) in zip(parameters, box_t, strict=True):
        if not lo < hi:
            raise ValueError(f"box of '{p}' must have low < high, got [{lo}, {hi}]")
    modes_list = np.asarray(modes).tolist()
    meta = {"modes": modes_list, "mode_label": mode_label, **dict(metadata or {})}
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
    )


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
