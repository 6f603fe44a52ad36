"""The matter power spectrum P(k, z) from two emulators: a transfer part and a non-linear boost.

Linear theory is exactly linear in the primordial spectrum, so

    P_lin(k, z) = A_s (k / k_pivot)^(n_s - 1) · T(k, z; ω_b, ω_cdm, h [, w0, wa])

with k_pivot = 0.05/Mpc (CAMB's), and only T — a function of the background and transfer
parameters — is emulated (``<model>_pk_transfer``: log10 T on the (z, k) grid, PCA + network).
A_s and n_s enter analytically: the linear spectrum holds for any A_s, n_s (only T's inputs have
a box), and sigma8 ∝ A_s^½ exactly, which makes the S8 → A_s map exact for the emulator.
The non-linear spectrum is P_lin times the emulated HMcode-2016 boost
(``<model>_pk_boost``: log10 P_nl/P_lin, every parameter, c_min and eta_0 included).

Both emulators give log10 values on the training grid (21 z in [0, 4], 400 log k in
[1e-4, 10] /Mpc). A request on other (z, k) is a not-a-knot cubic spline in (z, ln k) of ln P;
for a fixed request the spline weights fold into the emulators' linear output layers once, so a
call costs two small networks and two matrix products.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array
from jax.typing import ArrayLike

from ..emulator import Emulator, load_emulator
from ..emulator._transforms import PCA, Affine, Pow10
from ._spline import UniformSpline

__all__ = ["MatterPower", "K_PIVOT", "MODELS", "PARAM_ALIASES", "load_matter_power"]

K_PIVOT = 0.05
"""Pivot scale of A_s and n_s [1/Mpc] (CAMB's default)."""

MODELS: dict[str, tuple[str, str]] = {
    "lcdm": ("lcdm_pk_transfer", "lcdm_pk_boost"),
    "w0wacdm": ("w0wacdm_pk_transfer", "w0wacdm_pk_boost"),
}
"""Model name -> the shipped (transfer, boost) emulators."""

PARAM_ALIASES: dict[str, tuple[str, Any]] = {
    "H0": ("h", lambda v: v / 100.0),
    "A_s": ("ln10^{10}A_s", lambda v: jnp.log(1e10 * v)),
    "logA": ("ln10^{10}A_s", lambda v: v),
    "w0": ("w0_fld", lambda v: v),
    "wa": ("wa_fld", lambda v: v),
}
"""Other names accepted for the emulators' inputs: alias -> (input name, conversion)."""

_LN10 = math.log(10.0)


class _LinearHead:
    """The emulator's output steps up to log10, as ``log10 y = net @ a + b`` (float64).

    Every step before the final :class:`Pow10` must be :class:`Affine` or :class:`PCA`
    (linear), so they compose into one matrix ``a`` ``(n_net, n_outputs)`` and offset ``b``.
    """

    def __init__(self, emu: Emulator, what: str) -> None:
        steps = list(emu.output_transforms)
        if not steps or not isinstance(steps[-1], Pow10):
            raise ValueError(f"the {what} emulator must emulate log10 of its output")
        first = steps[0]
        if isinstance(first, Affine):
            n_in = np.asarray(first.shift).size
        elif isinstance(first, PCA):
            n_in = np.asarray(first.components).shape[0]
        else:
            raise ValueError(f"the {what} emulator's output steps must be affine/PCA then log10")
        a, b = np.eye(n_in), np.zeros(n_in)
        for step in steps[:-1]:
            if isinstance(step, Affine):
                scale = np.asarray(step.scale, np.float64)
                a, b = a * scale, b * scale + np.asarray(step.shift, np.float64)
            elif isinstance(step, PCA):
                comps = np.asarray(step.components, np.float64)
                a, b = a @ comps, b @ comps
            else:
                raise ValueError(
                    f"the {what} emulator's output steps must be affine/PCA then log10; got "
                    f"{type(step).__name__}")
        self.a, self.b = a, b

    def grid(self, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """``a`` as ``(n_net, n_z, n_k)`` and ``b`` as ``(n_z, n_k)``."""
        return self.a.reshape(-1, *shape), self.b.reshape(shape)


class MatterPower:
    """Linear and non-linear P(k, z) [Mpc³, k in 1/Mpc] of one cosmological model.

    Args:
        transfer: emulator of log10 T(z, k) = log10[P_lin / (A_s (k/k_pivot)^(n_s-1))] on a
            (z, k) grid (uniform in z and in ln k; z starting at 0).
        boost: emulator of log10 P_nl/P_lin on the same grid, or ``None`` (linear only).
        name: the model's name (for messages).

    Attributes:
        z_grid: the emulators' redshifts, shape ``(n_z,)``.
        k_grid: their wavenumbers [1/Mpc], shape ``(n_k,)``.
    """

    def __init__(self, transfer: Emulator, boost: Emulator | None = None,
                 name: str = "custom") -> None:
        self.name = name
        self.transfer, self.boost = transfer, boost
        axes = transfer.axes
        if len(axes) != 2 or (axes[0].name, axes[1].name) != ("z", "k"):
            raise ValueError(f"the transfer emulator's outputs must have axes (z, k); got "
                             f"{tuple(a.name for a in axes)}")
        self.z_grid = np.asarray(axes[0].values, np.float64)
        self.k_grid = np.asarray(axes[1].values, np.float64)
        if self.z_grid[0] != 0.0:
            raise ValueError("the transfer emulator's z grid must start at z = 0 (for sigma8)")
        self._zs = UniformSpline.on(self.z_grid, "z")
        self._ks = UniformSpline.on(np.log(self.k_grid), "ln k")
        shape = (self.z_grid.size, self.k_grid.size)
        self._heads = {"transfer": _LinearHead(transfer, "transfer").grid(shape)}
        if boost is not None:
            b_axes = boost.axes
            same = len(b_axes) == 2 and all(
                np.array_equal(np.asarray(u.values, float), np.asarray(v.values, float))
                for u, v in zip(b_axes, axes, strict=True))
            if not same:
                raise ValueError("the boost emulator's (z, k) grid differs from the transfer's")
            self._heads["boost"] = _LinearHead(boost, "boost").grid(shape)
        self._folded: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
        self._sigma8_head: tuple[Array, Array, np.ndarray, np.ndarray] | None = None

    # ---- parameters
    def parameters(self, nonlinear: bool = True) -> tuple[str, ...]:
        """Input names a call needs: the transfer's, n_s, ln10^{10}A_s, and the boost's."""
        names = [*self.transfer.parameters, "n_s", "ln10^{10}A_s"]
        if nonlinear and self.boost is not None:
            names += [n for n in self.boost.parameters if n not in names]
        return tuple(names)

    def _values(self, params: Mapping[str, ArrayLike], nonlinear: bool) -> dict[str, Array]:
        if not isinstance(params, Mapping):
            raise TypeError(f"params must be a mapping name -> value; got {type(params).__name__}")
        needed = self.parameters(nonlinear)
        out: dict[str, Array] = {}
        for name in needed:
            if name in params:
                out[name] = jnp.asarray(params[name])
                continue
            for alias, (target, convert) in PARAM_ALIASES.items():
                if target == name and alias in params:
                    out[name] = convert(jnp.asarray(params[alias]))
                    break
        missing = [n for n in needed if n not in out]
        if missing:
            aliases = {t: a for a, (t, _) in PARAM_ALIASES.items()}
            hint = [f"{m} (or {aliases[m]})" if m in aliases else m for m in missing]
            raise KeyError(
                f"the {self.name} {'non-linear' if nonlinear else 'linear'} P(k) needs "
                f"{', '.join(needed)}; missing {', '.join(hint)}")
        dtype = jnp.result_type(*out.values(), jnp.float32)
        return {n: v.astype(dtype) for n, v in out.items()}

    def _network(self, emu: Emulator, values: Mapping[str, Array], policy: str) -> Array:
        x = emu.guarded_inputs({n: values[n] for n in emu.parameters}, policy)  # type: ignore[arg-type]
        return emu.network(emu.input_transform.encode_jax(x))

    # ---- P(k, z)
    def __call__(self, params: Mapping[str, ArrayLike], k: ArrayLike, z: ArrayLike, *,
                 nonlinear: bool = True, policy: str = "raise") -> Array:
        """P(k, z) [Mpc³], shape ``(..., len(z), len(k))`` for parameters of batch shape ``(...)``.

        Args:
            params: name -> scalar or array (a batch); see :meth:`parameters`. Names the call
                does not use are ignored.
            k: wavenumbers [1/Mpc] in the grid's range (1e-4 to 10); 1-D or scalar.
            z: redshifts in [0, 4]; 1-D or scalar.
            nonlinear: HMcode-2016 with baryons (c_min, eta_0) if true, else linear.
            policy: outside the training box: ``"raise"`` (default), ``"warn"``, ``"clip"`` or
                ``"nan"``, as :meth:`cosmoemu.Emulator.predict`. The box applies to the
                transfer inputs (and, non-linear, to every boost input); A_s and n_s of the
                linear spectrum are exact and unbounded.

        Raises:
            KeyError: a parameter is missing.
            ValueError: concrete k or z outside the grid (traced ones give NaN there).
        """
        if nonlinear and self.boost is None:
            raise ValueError(f"the {self.name} model has no non-linear boost emulator")
        vals = self._values(params, nonlinear)
        dtype = vals["n_s"].dtype
        k_arr, z_arr = jnp.atleast_1d(jnp.asarray(k, dtype)), jnp.atleast_1d(jnp.asarray(z, dtype))
        if k_arr.ndim != 1 or z_arr.ndim != 1:
            raise ValueError(f"k and z must be scalars or 1-D; got shapes {k_arr.shape}, "
                             f"{z_arr.shape}")
        heads = ["transfer", "boost"] if nonlinear else ["transfer"]
        nets = [self._network(self.transfer, vals, policy)]
        if nonlinear:
            nets.append(self._network(self.boost, vals, policy))  # type: ignore[arg-type]
        # concrete k, z: tested on the arguments, since under jit jnp.asarray of a constant is a
        # tracer too (a closed-over grid must still fold)
        concrete = not isinstance(k, jax.core.Tracer) and not isinstance(z, jax.core.Tracer)
        if concrete:
            np_dtype = np.dtype(dtype)
            kq = np.atleast_1d(np.asarray(k, np_dtype)).astype(np.float64)
            zq = np.atleast_1d(np.asarray(z, np_dtype)).astype(np.float64)
            self._check_range(kq, zq)
            log10 = 0.0
            for head, net in zip(heads, nets, strict=True):
                a, b = self._fold(head, kq, zq, dtype)
                log10 = log10 + net @ a + b
            log10 = log10.reshape(*log10.shape[:-1], zq.size, kq.size)
            ln_k = jnp.asarray(np.log(kq / K_PIVOT), dtype)
        else:
            wz = self._zs.weights(z_arr)
            wk = self._ks.weights(jnp.log(k_arr))
            grid = self._log10_grid(heads, nets, dtype)  # (..., n_z, n_k)
            log10 = jnp.einsum("qi,...ij,pj->...qp", wz, grid, wk)
            lo, hi = self.k_grid[0] * (1 - 1e-6), self.k_grid[-1] * (1 + 1e-6)
            inside_k = (k_arr >= lo) & (k_arr <= hi)
            inside_z = (z_arr >= -1e-6) & (z_arr <= self.z_grid[-1] + 1e-6)
            log10 = jnp.where(inside_z[:, None] & inside_k[None, :], log10, jnp.nan)
            ln_k = jnp.log(k_arr / K_PIVOT)
        ln_as = vals["ln10^{10}A_s"] - 10.0 * _LN10
        primordial = ln_as[..., None, None] + (vals["n_s"] - 1.0)[..., None, None] * ln_k
        return jnp.exp(_LN10 * log10 + primordial)

    def in_box(self, params: Mapping[str, ArrayLike], *, nonlinear: bool = True) -> Array:
        """True where the parameters lie in the emulators' training boxes (jit-safe; A_s and n_s
        of the linear spectrum are exact and unbounded), of the batch shape."""
        vals = self._values(params, nonlinear)
        emus = [self.transfer] + ([self.boost] if nonlinear and self.boost is not None else [])
        inside = True
        for emu in emus:
            inside = inside & emu.in_box({n: vals[n] for n in emu.parameters})
        return jnp.asarray(inside)

    def ln_power_grid(self, params: Mapping[str, ArrayLike], *, nonlinear: bool = True,
                      policy: str = "raise") -> Array:
        """ln P(k, z) [P in Mpc³] on the emulators' own grid (:attr:`z_grid`, :attr:`k_grid`),
        shape ``(..., n_z, n_k)``: no interpolation, the cheapest full-grid call (for
        projections that interpolate themselves, e.g. Limber integrals)."""
        if nonlinear and self.boost is None:
            raise ValueError(f"the {self.name} model has no non-linear boost emulator")
        vals = self._values(params, nonlinear)
        dtype = vals["n_s"].dtype
        heads, emus = ["transfer"], [self.transfer]
        if nonlinear:
            heads, emus = ["transfer", "boost"], [self.transfer, self.boost]
        log10 = self._log10_grid(heads, [self._network(e, vals, policy) for e in emus], dtype)
        ln_k = jnp.asarray(np.log(self.k_grid / K_PIVOT), dtype)
        ln_as = vals["ln10^{10}A_s"] - 10.0 * _LN10
        primordial = ln_as[..., None, None] + (vals["n_s"] - 1.0)[..., None, None] * ln_k
        return _LN10 * log10 + primordial

    def _log10_grid(self, heads: list[str], nets: list[Array], dtype: Any) -> Array:
        """Σ over ``heads`` of log10 of their outputs on the training grid, ``(..., n_z, n_k)``,
        from the networks' outputs ``nets``."""
        log10 = 0.0
        for head, net in zip(heads, nets, strict=True):
            a, b = (jnp.asarray(v, dtype) for v in self._heads[head])
            log10 = log10 + jnp.tensordot(net, a, axes=1) + b
        return log10

    def _check_range(self, k: np.ndarray, z: np.ndarray) -> None:
        # the tolerance of the traced branch: the grid's own end points, cast to float32 for a
        # float32 call (1e-4 -> 9.99999975e-05), are inside
        lo, hi = self.k_grid[0] * (1 - 1e-6), self.k_grid[-1] * (1 + 1e-6)
        if np.any(k < lo) or np.any(k > hi) or np.any(~np.isfinite(k)):
            bad = k[(k < lo) | (k > hi) | ~np.isfinite(k)][0]
            raise ValueError(f"k = {bad:g} /Mpc is outside the {self.name} P(k) emulators' "
                             f"range [{self.k_grid[0]:g}, {self.k_grid[-1]:g}] /Mpc (k is in "
                             "1/Mpc, not h/Mpc)")
        zmax = self.z_grid[-1]
        if np.any(z < -1e-6) or np.any(z > zmax + 1e-6) or np.any(~np.isfinite(z)):
            bad = z[(z < -1e-6) | (z > zmax + 1e-6) | ~np.isfinite(z)][0]
            raise ValueError(f"z = {bad:g} is outside the {self.name} P(k) emulators' range "
                             f"[0, {zmax:g}]")

    def _fold(self, head: str, k: np.ndarray, z: np.ndarray,
              dtype: Any) -> tuple[np.ndarray, np.ndarray]:
        """The head's matrix and offset on the requested (z, k), spline weights folded in.

        NumPy arrays (cached, so they must not be tracers: a fold first made inside jit is
        reused by later traces and eager calls)."""
        key = (head, k.tobytes(), z.tobytes(), jnp.dtype(dtype).name)
        if key not in self._folded:
            a, b = self._heads[head]
            wz = self._zs.weights_numpy(np.clip(z, 0.0, self.z_grid[-1]))
            wk = self._ks.weights_numpy(np.log(np.clip(k, self.k_grid[0], self.k_grid[-1])))
            af = np.einsum("qi,oij,pj->oqp", wz, a, wk, optimize=True).reshape(a.shape[0], -1)
            bf = (wz @ b @ wk.T).reshape(-1)
            np_dtype = np.dtype(dtype)
            self._folded[key] = (af.astype(np_dtype), bf.astype(np_dtype))
        return self._folded[key]

    # ---- sigma8
    def sigma8(self, params: Mapping[str, ArrayLike], *, policy: str = "raise") -> Array:
        """σ8 at z = 0 of the total matter (CAMB's ``get_sigma8_0``), shape of the batch.

        σ8² = ∫ dln k  k³ P_lin(k, 0) / (2π²) · W²(k · 8 Mpc/h), W the top hat, over the
        emulators' k range (1e-4 to 10 /Mpc; beyond it < 1e-6 of σ8²), Simpson on 2049 ln k
        points of the spline of ln T.
        """
        vals = self._values(params, nonlinear=False)
        dtype = vals["n_s"].dtype
        if self._sigma8_head is None:
            a, b = self._heads["transfer"]
            lnk = np.linspace(np.log(self.k_grid[0]), np.log(self.k_grid[-1]), 2049)
            wk = self._ks.weights_numpy(lnk)
            simpson = np.full(lnk.size, 2.0)
            simpson[1::2] = 4.0
            simpson[0] = simpson[-1] = 1.0
            simpson *= (lnk[1] - lnk[0]) / 3.0
            self._sigma8_head = (a[:, 0, :] @ wk.T, b[0] @ wk.T, lnk, simpson)
        a0, b0, lnk, simpson = self._sigma8_head
        net = self._network(self.transfer, vals, policy)
        log10_t = net @ jnp.asarray(a0, dtype) + jnp.asarray(b0, dtype)
        k = jnp.asarray(np.exp(lnk), dtype)
        ln_as = vals["ln10^{10}A_s"] - 10.0 * _LN10
        ln_p = _LN10 * log10_t + ln_as[..., None] + (vals["n_s"] - 1.0)[..., None] * jnp.log(
            k / K_PIVOT)
        x = k * (8.0 / vals["h"])[..., None]
        window = 3.0 * (jnp.sin(x) - x * jnp.cos(x)) / x**3
        integrand = k**3 * jnp.exp(ln_p) / (2.0 * np.pi**2) * window**2
        return jnp.sqrt(integrand @ jnp.asarray(simpson, dtype))


_LOADED: dict[str, MatterPower] = {}


def load_matter_power(model: str | MatterPower = "lcdm") -> MatterPower:
    """The shipped P(k) emulators of ``model`` (``"lcdm"`` or ``"w0wacdm"``), loaded once.

    Raises:
        ValueError: an unknown model name.
    """
    if isinstance(model, MatterPower):
        return model
    if model not in MODELS:
        raise ValueError(f"unknown P(k) model {model!r}; available: {', '.join(MODELS)}")
    if model not in _LOADED:
        from ..emulator import list_emulators

        missing = [n for n in MODELS[model] if n not in list_emulators()]
        if missing:
            raise ValueError(
                f"the {model} P(k) emulators ({', '.join(missing)}) are not shipped in this "
                "version; train them with `cosmoemu train src/cosmoemu/pretrained/configs/"
                f"{missing[0]}.yaml` (docs/matter_power.md) and pass "
                "MatterPower(load_emulator(TRANSFER), load_emulator(BOOST)) as model=")
        transfer, boost = (load_emulator(n) for n in MODELS[model])
        _LOADED[model] = MatterPower(transfer, boost, name=model)
    return _LOADED[model]
