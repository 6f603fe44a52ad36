"""Seismograms of an earthquake: the hypocentre (x, y, depth) from noisy surface traces.

The data are the displacement traces of the ``seismic_hypocentre_v1`` scenario
(:mod:`cosmoemu.seismic`), ``(n_receivers, 3, nt)`` = (10, 3, 200) in mm, with independent
Gaussian white noise of known standard deviation ``sigma`` (mm) on every sample; the model
traces come from an emulator of the forward model (``emu.predict``, jit- and grad-able):

.. math::

    \\ln L(x, y, d) = -\\frac{1}{2\\sigma^2} \\sum_{r,c,t} (D_{rct} - M_{rct}(x, y, d))^2
                      - \\frac{N}{2} \\ln(2\\pi\\sigma^2),\\qquad N = 6000.

Config (``examples/seismic_hypocentre.yaml``); no theory block and no cosmology::

    likelihood:
      quake:
        type: seismic_traces
        observed: data/seismic_event.npz       # relative to the config file's directory
        emulator: seismic_hypocentre_v1         # a shipped name or a model path (the default)
    params:
      x: {prior: {min: -10, max: 10}}           # km East
      y: {prior: {min: -10, max: 10}}           # km North
      depth: {prior: {min: 9, max: 17}}         # km, positive down

The observed file is an ``.npz`` (read with ``allow_pickle=False``) holding ``traces``
(10, 3, 200) mm and ``sigma`` (a scalar, mm), and optionally ``receivers`` (10, 2) km and
``times`` (200,) s, which must then match the scenario's.
"""

from __future__ import annotations

import math
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from .._config import check_keys, get
from .._errors import ConfigError
from ._base import config_dir, register_likelihood

__all__ = [
    "DEFAULT_SEISMIC_EMULATOR",
    "SeismicTracesLikelihood",
    "read_observed_traces",
    "traces_loglike",
]

DEFAULT_SEISMIC_EMULATOR = "seismic_hypocentre_v1"
"""The emulator the ``seismic_traces`` likelihood loads unless told otherwise."""
_PARAMS = ("x", "y", "depth")


def traces_loglike(data: ArrayLike, model: ArrayLike, sigma: float) -> jax.Array:
    """Gaussian white-noise log-likelihood of traces.

    Args:
        data: observed traces, shape ``(*S,)`` (e.g. ``(10, 3, 200)``), mm.
        model: model traces, shape ``(..., *S)``, mm (a leading batch is allowed).
        sigma: noise standard deviation per sample, mm (> 0).

    Returns:
        ``-0.5 sum((data - model)^2) / sigma^2 - N/2 ln(2 pi sigma^2)`` with ``N = data.size``,
        shape ``(...)``.
    """
    model = jnp.asarray(model)
    dtype = jnp.result_type(model.dtype, jnp.float32)
    d = jnp.asarray(data, dtype)
    r = (d - model.astype(dtype)) / jnp.asarray(sigma, dtype)
    axes = tuple(range(model.ndim - d.ndim, model.ndim))
    n = d.size
    norm = -0.5 * n * math.log(2.0 * math.pi * float(sigma) ** 2)
    return -0.5 * jnp.sum(r * r, axis=axes) + jnp.asarray(norm, dtype)


def read_observed_traces(path: str | Path, scenario: Any = None) -> dict[str, np.ndarray]:
    """Read and check an observed-traces file.

    Args:
        path: ``.npz`` with ``traces`` ``(n_receivers, 3, nt)`` mm and ``sigma`` (scalar, mm);
            optional ``receivers`` ``(n_receivers, 2)`` km and ``times`` ``(nt,)`` s.
        scenario: the scenario the traces belong to (a :class:`cosmoemu.seismic.Scenario`, a
            path or ``None`` for the packaged ``seismic_hypocentre_v1``).

    Returns:
        ``{"traces": float64 (n_receivers, 3, nt), "sigma": float64 ()}`` plus ``receivers``
        and ``times`` when the file has them.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not an npz, a missing array, a wrong shape, non-finite values,
            ``sigma <= 0``, or receivers/times that differ from the scenario's (the message
            names the array and the fix).
    """
    from ..seismic import load_scenario

    sc = load_scenario(scenario)
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"observed traces file '{path}' does not exist")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"observed traces file '{path}' is not a readable .npz (write it with "
                         "np.savez(path, traces=..., sigma=...))")
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except ValueError as err:  # object arrays (pickles) or not a zip
        raise ValueError(f"observed traces file '{path}': cannot read it as a plain .npz "
                         f"(numeric arrays, no pickles): {err}") from err
    except (OSError, EOFError) as err:
        raise ValueError(f"observed traces file '{path}' is not a readable .npz: {err}") from err
    where = f"observed traces file '{path}'"
    expected = {"traces": sc.trace_shape, "sigma": (),
                "receivers": sc.receivers.shape, "times": (sc.nt,)}
    for key in ("traces", "sigma"):
        if key not in arrays:
            raise ValueError(f"{where} lacks '{key}' (it holds {sorted(arrays) or 'nothing'}); "
                             "write it with np.savez(path, traces=..., sigma=...)")
    out: dict[str, np.ndarray] = {}
    for key, shape in expected.items():
        if key not in arrays:
            continue
        a = arrays[key]
        if not np.issubdtype(a.dtype, np.number) or np.iscomplexobj(a):
            raise ValueError(f"{where}: '{key}' must be real numbers, got dtype {a.dtype}")
        a = a.astype(np.float64)
        if a.shape != shape:
            raise ValueError(f"{where}: '{key}' has shape {a.shape}, scenario '{sc.name}' "
                             f"needs {shape}")
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{where}: '{key}' holds {int(np.sum(~np.isfinite(a)))} "
                             "non-finite values (NaN/inf); remove or replace them")
        out[key] = a
    if not out["sigma"] > 0:
        raise ValueError(f"{where}: 'sigma' must be > 0 (the noise standard deviation in mm), "
                         f"got {float(out['sigma'])}")
    if "receivers" in out and not np.allclose(out["receivers"], sc.receivers, rtol=0,
                                              atol=1e-6):
        worst = float(np.abs(out["receivers"] - sc.receivers).max())
        raise ValueError(f"{where}: 'receivers' differ from scenario '{sc.name}' by up to "
                         f"{worst:g} km; the traces belong to another receiver layout (use "
                         "that scenario, or drop 'receivers' if they are the same stations)")
    if "times" in out and not np.allclose(out["times"], sc.times, rtol=0, atol=1e-6):
        worst = float(np.abs(out["times"] - sc.times).max())
        raise ValueError(f"{where}: 'times' differ from scenario '{sc.name}' "
                         f"(t0={sc.t0:g} s, dt={sc.dt:g} s, nt={sc.nt}) by up to {worst:g} s; "
                         "resample the traces onto the scenario's time grid")
    return out


class SeismicTracesLikelihood(eqx.Module):
    """Gaussian white-noise likelihood of observed seismograms given the hypocentre, with the
    model traces from an emulator (see the module docstring for the formula).

    Reads the sampled parameters ``x``, ``y`` (km East, North) and ``depth`` (km); no theory
    products, no cosmology. Outside the emulator's box it returns ``-inf`` (``NaN`` from the
    emulator, which the posterior turns into ``-inf``): give uniform priors on the box.

    Args:
        emulator: an emulator of the traces with parameters ``x``, ``y``, ``depth`` and output
            shape ``(n_receivers, 3, nt)`` (e.g. ``cosmoemu.load_emulator(
            "seismic_hypocentre_v1")``).
        traces: observed traces, shape ``(n_receivers, 3, nt)``, mm.
        sigma: noise standard deviation, mm.

    Raises:
        ValueError: the emulator's parameters or output shape do not fit the traces, or
            ``sigma`` is not a positive finite number.
    """

    emulator: Any
    traces: np.ndarray
    sigma: float = eqx.field(static=True)

    def __init__(self, emulator: Any, traces: ArrayLike, sigma: float) -> None:
        traces = np.asarray(traces, dtype=np.float64)
        sigma = float(sigma)
        if not (math.isfinite(sigma) and sigma > 0):
            raise ValueError(f"SeismicTracesLikelihood: sigma must be a positive number of mm, "
                             f"got {sigma}")
        if not np.all(np.isfinite(traces)):
            raise ValueError("SeismicTracesLikelihood: traces hold non-finite values")
        names = tuple(emulator.parameters)
        if sorted(names) != sorted(_PARAMS):
            raise ValueError(f"SeismicTracesLikelihood: the emulator's parameters are {names}; "
                             f"a hypocentre emulator with {_PARAMS} is needed")
        if tuple(emulator.output_shape) != traces.shape:
            raise ValueError(f"SeismicTracesLikelihood: the emulator predicts shape "
                             f"{tuple(emulator.output_shape)} but the traces have shape "
                             f"{traces.shape}; use the emulator of the traces' scenario")
        self.emulator = emulator
        self.traces = traces
        self.sigma = sigma

    @property
    def params(self) -> tuple[str, ...]:
        """``("x", "y", "depth")``: hypocentre, km."""
        return _PARAMS

    @property
    def products(self) -> dict[str, dict]:
        """None: the model traces come from the likelihood's own emulator."""
        return {}

    @property
    def inputs(self) -> tuple[str, ...]:
        """Names read by :meth:`from_values`: ``x``, ``y``, ``depth``."""
        return _PARAMS

    @property
    def n_data(self) -> int:
        """Number of data values (6000 for the packaged scenario)."""
        return int(self.traces.size)

    def model(self, hypocentre: ArrayLike) -> jax.Array:
        """Emulated traces, mm: ``(..., 3)`` (x, y, depth km) → ``(..., n_receivers, 3, nt)``;
        NaN outside the emulator's box."""
        h = jnp.asarray(hypocentre)
        values = {p: h[..., i] for i, p in enumerate(_PARAMS)}
        return self.emulator.predict(values, policy="nan")

    def __call__(self, hypocentre: ArrayLike) -> jax.Array:
        """Log-likelihood of ``hypocentre`` ``(..., 3)`` = (x, y, depth) km → shape ``(...)``."""
        return traces_loglike(self.traces, self.model(hypocentre), self.sigma)

    def locate(self, bounds: Mapping[str, tuple[float, float]] | None = None, *,
               grid_km: float = 1.0, n_candidates: int = 8, levels: int = 2,
               chunk: int = 512) -> tuple[np.ndarray, float]:
        """The global maximum of ln L to within ~``grid_km / 4**levels / 2``, found without a
        starting point (the traces make ln L oscillate in the hypocentre, so a local search
        from the box centre can stop at a secondary maximum).

        A cell-centred grid of spacing ``~grid_km`` over ``bounds`` (default the emulator's
        box), then ``levels`` times: around each of the ``n_candidates`` best points so far, a
        4 x 4 x 4 grid at a quarter of the previous spacing. Every evaluation is a batch of
        ``chunk`` points of one compiled function.

        Args:
            bounds: ``{name: (low, high)}`` km for some of x, y, depth (others: emulator box).
            grid_km: spacing of the first grid, km.
            n_candidates: points refined at each level.
            levels: refinement levels.
            chunk: points per emulator call.

        Returns:
            (hypocentre ``(3,)`` = x, y, depth km, float64; its ln L).
        """
        lo, hi = [], []
        for p in _PARAMS:
            elo, ehi = self.emulator.box[p]
            blo, bhi = (bounds or {}).get(p, (elo, ehi))
            lo.append(max(float(blo), float(elo)))
            hi.append(min(float(bhi), float(ehi)))
        lo_a, hi_a = np.array(lo), np.array(hi)
        axes, step = [], []
        for a, b in zip(lo_a, hi_a, strict=True):
            n = max(1, int(math.ceil((b - a) / grid_km)))
            axes.append(a + (np.arange(n) + 0.5) * (b - a) / n)
            step.append((b - a) / n)
        points = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
        values = self._evaluate_many(points, chunk)
        offsets = np.stack(np.meshgrid(*[np.arange(4) - 1.5] * 3, indexing="ij"),
                           axis=-1).reshape(-1, 3)
        step_a = np.array(step)
        for _ in range(levels):
            best = points[np.argsort(values)[::-1][:n_candidates]]
            step_a = step_a / 4
            fine = np.clip((best[:, None, :] + offsets * step_a).reshape(-1, 3), lo_a, hi_a)
            points = np.concatenate([best, fine])
            values = np.concatenate([np.sort(values)[::-1][:n_candidates],
                                     self._evaluate_many(fine, chunk)])
        i = int(np.argmax(values))
        return points[i], float(values[i])

    def _evaluate_many(self, points: np.ndarray, chunk: int) -> np.ndarray:
        """ln L of ``points`` ``(n, 3)`` in batches of ``chunk`` (the last one padded, so one
        compilation serves all); -inf where not finite."""
        dtype = jnp.zeros(()).dtype
        out = []
        for i in range(0, len(points), chunk):
            block = points[i:i + chunk]
            padded = np.concatenate([block, np.repeat(block[-1:], chunk - len(block), 0)])
            out.append(np.asarray(_evaluate(self, jnp.asarray(padded, dtype)),
                                  np.float64)[:len(block)])
        values = np.concatenate(out)
        return np.where(np.isfinite(values), values, -np.inf)

    def laplace(self, start: ArrayLike, *, max_steps: int = 30, tol: float = 1e-6
                ) -> tuple[np.ndarray, np.ndarray, float]:
        """Mode of ln L near ``start`` and the Laplace covariance there (exact Hessian by
        ``jax.hessian``; uniform priors wider than the peak make this the posterior's).

        The mode by :func:`cosmoemu.inference._mode.find_mode` (saddle-free Newton with
        backtracking, the sampler's own mode search), stopping when the Newton decrement is
        below ``tol``; then the exact Hessian there. Runs in the precision of the current JAX
        default (enable float64 for accurate Hessians).

        Args:
            start: ``(3,)`` = x, y, depth km, e.g. from :meth:`locate`.
            max_steps: most Newton steps.
            tol: Newton-decrement tolerance (expected gain in ln L, times 2).

        Returns:
            (mode ``(3,)`` km, covariance ``(3, 3)`` km^2 = inv(-Hessian), ln L at the mode),
            float64.

        Raises:
            FloatingPointError: ln L is not finite at ``start`` (outside the emulator's box).
        """
        from ..inference._mode import find_mode

        dtype = jnp.zeros(()).dtype
        mode, _, _ = find_mode(self, jnp.asarray(start, dtype), max_steps=max_steps, tol=tol)
        value, hess = (np.asarray(a, np.float64)
                       for a in _value_and_hessian(self, jnp.asarray(mode, dtype)))
        cov = np.linalg.inv(-hess)
        return mode, 0.5 * (cov + cov.T), float(value)

    def starting_point(self, bounds: Mapping[str, tuple[float, float]] | None = None
                       ) -> dict[str, float]:
        """Where the sampler starts its mode search (used by ``cosmoemu sample`` when no
        ``ref`` is given): :meth:`locate` within ``bounds`` (the priors' supports), km."""
        point, _ = self.locate(bounds)
        return dict(zip(_PARAMS, point.tolist(), strict=True))

    def from_values(self, values: Mapping[str, ArrayLike]) -> jax.Array:
        """Log-likelihood from a mapping holding scalars ``x``, ``y``, ``depth`` (km)."""
        missing = [p for p in _PARAMS if p not in values]
        if missing:
            raise KeyError(f"SeismicTracesLikelihood needs parameters {missing} (km), got "
                           f"{sorted(values)}")
        return self(jnp.stack([jnp.asarray(values[p]) for p in _PARAMS], axis=-1))


@eqx.filter_jit
def _value_and_hessian(like: SeismicTracesLikelihood, h: jax.Array):
    """(ln L, Hessian) at one hypocentre ``(3,)`` (compiled once for all data)."""
    return like(h), jax.hessian(like)(h)


@eqx.filter_jit
def _evaluate(like: SeismicTracesLikelihood, h: jax.Array) -> jax.Array:
    return like(h)


def _from_config(cfg: Mapping[str, Any], where: str) -> SeismicTracesLikelihood:
    from ..emulator import load_emulator
    from ..seismic import ScenarioError

    check_keys(cfg, ("observed", "emulator", "scenario"), where)
    observed = Path(get(cfg, "observed", str, where=where))
    base = config_dir()
    if not observed.is_absolute() and base is not None:
        observed = base / observed
    scenario = get(cfg, "scenario", str, "", where=where) or None
    if scenario is not None and base is not None and not Path(scenario).is_absolute() \
            and (base / scenario).is_file():
        scenario = str(base / scenario)
    try:
        data = read_observed_traces(observed, scenario)
    except FileNotFoundError as err:
        raise ConfigError(f"{where}.observed", f"{err} (relative paths are read from the "
                                               "config file's directory)") from err
    except ScenarioError as err:
        raise ConfigError(f"{where}.scenario", str(err)) from err
    except ValueError as err:
        raise ConfigError(f"{where}.observed", str(err)) from err
    name = get(cfg, "emulator", str, DEFAULT_SEISMIC_EMULATOR, where=where)
    if base is not None and not Path(name).is_absolute() \
            and any((base / (name + ext)).exists() for ext in ("", ".npz", ".json")):
        name = str(base / name)
    try:
        emulator = load_emulator(name)
    except (ValueError, OSError) as err:
        raise ConfigError(f"{where}.emulator", f"cannot load emulator {name!r}: {err}") from err
    try:
        return SeismicTracesLikelihood(emulator, data["traces"], float(data["sigma"]))
    except ValueError as err:
        raise ConfigError(f"{where}.emulator", str(err)) from err


register_likelihood("seismic_traces", _from_config)
