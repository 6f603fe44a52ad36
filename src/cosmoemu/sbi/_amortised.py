r"""Amortised posterior for noisy data from noise-free simulations: compressor + conditional flow.

For a simulator with known white Gaussian noise, :math:`x = f(\theta) + \sigma n`, and a bounded
(box) prior, :func:`train_amortised` learns from noise-free simulations :math:`(\theta_i,
f(\theta_i))` a posterior :math:`q(\theta\mid x)` that costs one network pass per new data set:

1. **PCA** of the noise-free simulations: :math:`c = V_k (x - \bar x)`, ``(k,)``. The rows of
   :math:`V_k` are orthonormal, so white noise of the data is white noise of the same
   :math:`\sigma` on :math:`c`: the noisy copies are made in the compressed space (exact).
2. **Regression** (posterior-mean estimator): an MLP :math:`s = g(c)` trained with the mean
   squared error to predict :math:`p = (\theta - a)/(b - a)` (the position in the box
   :math:`[a, b]`, standardised) from noisy copies, with a fresh noise realisation of every
   simulation in every epoch (data augmentation). :math:`s` are the ``D`` summaries and
   :math:`\hat p(s)` the estimate of :math:`E[p\mid x]`.
3. **Conditional flow** (flowjax) of the locally scaled residual in the unbounded variable
   :math:`u = \operatorname{logit} p`,

   .. math::

       z = \big(u - \operatorname{logit}\hat p\big)\,\frac{\hat p (1 - \hat p)}{r}
         \approx \frac{p - \hat p}{r},

   given :math:`s` (:math:`r`: the regression's residual scale in :math:`p`, so that
   :math:`z = O(1)` everywhere in the box; :math:`\hat p` is clipped to
   :math:`[r, 1 - r]` in this map, so the scale stays finite at the edges), trained by
   maximum likelihood on *other*
   simulations than the regression's (a held-out share, ``flow_fraction``), again with fresh
   noise every epoch, so that the residuals it learns are those of new data, not of the
   regression's own training set.

The posterior density in :math:`\theta` is :math:`\ln q(\theta\mid x) = \ln q_z(z\mid s)
+ \sum_i \ln\big(\hat p_i (1 - \hat p_i)/r_i\big) - \sum_i \ln\big((b_i - a_i) p_i (1 - p_i)\big)`;
samples are always inside the box.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
import paramax

from .._config import check_keys
from .._errors import ConfigError

__all__ = ["AmortisedConfig", "AmortisedPosterior", "train_amortised"]

#: clip of the estimated box position p_hat away from 0 and 1
_EPS = 1e-4


@dataclass(frozen=True)
class AmortisedConfig:
    """Architecture and training settings of :func:`train_amortised`.

    Attributes:
        n_components: PCA components kept ``k`` (at most the data size and the simulations).
        reg_width, reg_depth: hidden width and layers of the regression MLP.
        reg_epochs: regression epochs (cosine learning-rate decay over them; the weights of
            the best validation loss are kept).
        reg_learning_rate: peak Adam learning rate of the regression.
        reg_weight_decay: decoupled weight decay of the regression (AdamW); 0: Adam.
        flow: ``"coupling"`` or ``"maf"`` (masked autoregressive), flowjax.
        spline_knots: 0: affine transformers; > 0: rational-quadratic splines with this many
            knots on ``[-spline_interval, spline_interval]``.
        spline_interval: half-width of the spline interval (in units of ``r``).
        flow_layers, flow_width, flow_depth: flow layers and their conditioner MLPs.
        flow_epochs: flow epochs (cosine decay; the best validation loss is kept).
        flow_learning_rate: peak Adam learning rate of the flow.
        batch_size: simulations per step.
        flow_fraction: share of the simulations held out of the regression; the flow trains
            (and the regression validates) on them.
        validation_fraction: share of the flow's simulations that validate the flow.
    """

    n_components: int = 256
    reg_width: int = 256
    reg_depth: int = 3
    reg_epochs: int = 400
    reg_learning_rate: float = 1e-3
    reg_weight_decay: float = 0.0
    flow: str = "coupling"
    spline_knots: int = 0
    spline_interval: float = 6.0
    flow_layers: int = 4
    flow_width: int = 64
    flow_depth: int = 1
    flow_epochs: int = 300
    flow_learning_rate: float = 1e-3
    batch_size: int = 256
    flow_fraction: float = 0.25
    validation_fraction: float = 0.2

    @classmethod
    def from_options(cls, options: Mapping[str, Any] | None = None) -> AmortisedConfig:
        """Defaults updated with ``options`` (names, types and ranges checked)."""
        base = cls()
        options = dict(options or {})
        check_keys(options, list(asdict(base)), where="options")
        updates: dict[str, Any] = {}
        for name, value in options.items():
            ref = getattr(base, name)
            if isinstance(ref, str):
                if value not in ("coupling", "maf"):
                    raise ConfigError(f"options.{name}", f"expected 'coupling' or 'maf', got "
                                                         f"{value!r}")
                updates[name] = value
                continue
            typ = float if isinstance(ref, float) else int
            if isinstance(value, bool) or not isinstance(value, (int, float)) or (
                    typ is int and not float(value).is_integer()):
                raise ConfigError(f"options.{name}", f"expected a number, got {value!r}")
            value = typ(value)
            low_ok = value >= 0 if name in ("spline_knots", "reg_weight_decay") else value > 0
            frac = name in ("flow_fraction", "validation_fraction")
            if not low_ok or (frac and value >= 1):
                raise ConfigError(f"options.{name}",
                                  f"must be {'in (0, 1)' if frac else 'positive'}, got {value!r}")
            updates[name] = value
        return replace(base, **updates)


def _split(module: Any) -> tuple[Any, Any]:
    return eqx.partition(module, eqx.is_inexact_array,
                         is_leaf=lambda leaf: isinstance(leaf, paramax.NonTrainable))


def _build_mlp(config: AmortisedConfig, d: int, key: jax.Array) -> eqx.nn.MLP:
    return eqx.nn.MLP(config.n_components, d, config.reg_width, config.reg_depth,
                      activation=jax.nn.silu, key=key)


def _build_flow(config: AmortisedConfig, d: int, key: jax.Array) -> Any:
    from flowjax.bijections import RationalQuadraticSpline
    from flowjax.distributions import StandardNormal
    from flowjax.flows import coupling_flow, masked_autoregressive_flow

    if d < 2 and config.flow == "coupling":
        raise ValueError("a coupling flow needs at least 2 parameters; use flow='maf'")
    kwargs: dict[str, Any] = {}
    if config.spline_knots:
        kwargs["transformer"] = RationalQuadraticSpline(knots=config.spline_knots,
                                                        interval=config.spline_interval)
    make = coupling_flow if config.flow == "coupling" else masked_autoregressive_flow
    return make(key, base_dist=StandardNormal((d,)), cond_dim=d, flow_layers=config.flow_layers,
                nn_width=config.flow_width, nn_depth=config.flow_depth,
                nn_activation=jax.nn.silu, **kwargs)


def _templates(config: AmortisedConfig, d: int, seed: int) -> tuple[Any, Any, Any, Any]:
    """``(mlp params, mlp static, flow params, flow static)`` built from ``seed``."""
    k1, k2 = jr.split(jr.key(seed))
    mp, ms = _split(_build_mlp(config, d, k1))
    fp, fs = _split(_build_flow(config, d, k2))
    return mp, ms, fp, fs


def _logit_box(theta: Any, lo: Any, hi: Any) -> Any:
    p = (theta - lo) / (hi - lo)
    return jnp.log(p) - jnp.log1p(-p)


def _centre(s: Any, p_mean: Any, p_std: Any, r: Any) -> tuple[Any, Any]:
    """``(logit p_c, p_c (1 - p_c) / r)`` of summaries ``s`` ``(..., D)``: the affine map
    ``z = (u - m) a`` of the module docstring, with ``p_c`` the estimate ``p_hat`` kept one
    residual scale ``r`` away from the box's edges (closer, the local scale would shrink to 0
    and a unit step in ``z`` would jump across the box)."""
    ph = jnp.clip(p_mean + p_std * s, r, 1 - r)
    return jnp.log(ph) - jnp.log1p(-ph), ph * (1 - ph) / r


def _randomized_pca(x: np.ndarray, k: int, seed: int, power: int = 2
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean ``(N,)``, top-``k`` orthonormal directions ``(k, N)`` and singular values ``(k,)``
    of ``x`` ``(n, N)`` (randomised range finder with power iterations, Halko et al. 2011; the
    range in float32, the final small SVD and re-orthonormalisation in float64)."""
    mean = x.mean(axis=0)
    xc = (x - mean).astype(np.float32)
    rng = np.random.default_rng(seed)
    omega = rng.standard_normal((xc.shape[1], min(k + 20, *xc.shape)), dtype=np.float32)
    q, _ = np.linalg.qr(xc @ omega)
    for _ in range(power):
        q, _ = np.linalg.qr(xc.T @ q)
        q, _ = np.linalg.qr(xc @ q)
    _, s, vt = np.linalg.svd((q.T @ xc).astype(np.float64), full_matrices=False)
    vt, _ = np.linalg.qr(vt[:k].T)          # orthonormal rows to float64 precision
    return mean, vt.T, s[:k]


@dataclass(frozen=True)
class AmortisedPosterior:
    r"""A trained amortised posterior :math:`q(\theta\mid x)` (see the module docstring).

    Attributes:
        names: parameter names ``(D,)``.
        low, high: the prior box ``(D,)`` (the parameters' units).
        sigma: the data's white-noise standard deviation (the data's units).
        x_shape: shape of one data set (e.g. ``(10, 3, 200)``); inputs are ``(..., *x_shape)``
            or flattened ``(..., N)``.
        pca_mean: ``(N,)``; pca_basis: ``(k, N)`` orthonormal rows; c_scale: ``(k,)`` the
            standard deviation of the noisy coefficients (the MLP sees ``c / c_scale``).
        p_mean, p_std: ``(D,)`` standardisation of the regression target :math:`p`.
        r_scale: ``(D,)`` the residuals' scale :math:`r` (units of :math:`p`).
        mlp_params, flow_params: trainable arrays; mlp_static, flow_static: the rest.
        config: :class:`AmortisedConfig`.
        seed: seeds the weights, the splits, the noise and the batch orders.
        n_simulations: noise-free simulations trained on.
        history: losses per stage; fit_seconds: ``{"pca", "regression", "flow"}`` wall times.
    """

    names: tuple[str, ...]
    low: np.ndarray
    high: np.ndarray
    sigma: float
    x_shape: tuple[int, ...]
    pca_mean: np.ndarray = field(repr=False)
    pca_basis: np.ndarray = field(repr=False)
    c_scale: np.ndarray = field(repr=False)
    p_mean: np.ndarray = field(repr=False)
    p_std: np.ndarray = field(repr=False)
    r_scale: np.ndarray = field(repr=False)
    mlp_params: Any = field(repr=False)
    mlp_static: Any = field(repr=False)
    flow_params: Any = field(repr=False)
    flow_static: Any = field(repr=False)
    config: AmortisedConfig = field(default_factory=AmortisedConfig)
    seed: int = 0
    n_simulations: int = 0
    history: dict[str, Any] = field(default_factory=dict, repr=False)
    fit_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def dim(self) -> int:
        """Number of parameters :math:`D`."""
        return len(self.names)

    @property
    def x_size(self) -> int:
        """Number of data values :math:`N`."""
        return int(np.prod(self.x_shape))

    @functools.cached_property
    def _core(self) -> _Core:
        return _Core(self)

    def _flat(self, x: Any) -> jax.Array:
        x = jnp.asarray(x)
        n = len(self.x_shape)
        if x.ndim >= n and x.shape[x.ndim - n:] == tuple(self.x_shape):
            x = x.reshape(*x.shape[:x.ndim - n], self.x_size)
        elif x.shape[-1:] != (self.x_size,):
            raise ValueError(f"data of shape (..., {', '.join(map(str, self.x_shape))}) or "
                             f"(..., {self.x_size}) expected, got {x.shape}")
        return x.astype(jnp.float32)

    def compress(self, x: Any) -> jax.Array:
        r"""The summaries :math:`s` of data ``x`` ``(..., *x_shape)``: ``(..., D)``, the
        regression's estimate of the standardised :math:`p`."""
        return _compress_jit(self._core, self._flat(x))

    def point_estimate(self, x: Any) -> jax.Array:
        """The regression's estimate mapped back to the parameters, ``(..., D)``."""
        return self._core.from_p(self._core.p_hat(self.compress(x)))

    def sample(self, x: Any, n: int, key: jax.Array | int = 0) -> jax.Array:
        """``n`` posterior draws for one data set ``x`` ``(*x_shape)``: ``(n, D)``; for a
        batch ``(B, *x_shape)``: ``(B, n, D)``. ``key``: a JAX key or an int seed."""
        if isinstance(key, int):
            key = jr.key(key)
        if int(n) < 1:
            raise ValueError(f"n must be positive, got {n}")
        return _sample_jit(self._core, self._flat(x), key, int(n))

    def log_prob(self, theta: Any, x: Any) -> jax.Array:
        r""":math:`\ln q(\theta\mid x)` in the parameters' units, ``theta`` ``(..., D)``
        broadcast against ``x`` ``(..., *x_shape)`` → ``(...)``; ``-inf`` outside the box."""
        theta = jnp.asarray(theta, jnp.float32)
        if theta.shape[-1:] != (self.dim,):
            raise ValueError(f"theta (..., {self.dim}) expected, got {theta.shape}")
        return _log_prob_jit(self._core, theta, self._flat(x))

    def add_noise(self, x_clean: Any, seed: int | Sequence[int]) -> np.ndarray:
        """``x_clean`` plus white Gaussian noise of the model's ``sigma`` drawn with
        ``numpy.random.default_rng(seed)`` (float64, same shape)."""
        x_clean = np.asarray(x_clean, np.float64)
        return x_clean + self.sigma * np.random.default_rng(seed).standard_normal(x_clean.shape)

    def summary(self) -> dict[str, Any]:
        """JSON-ready description (no arrays)."""
        return {"names": list(self.names), "low": [float(v) for v in self.low],
                "high": [float(v) for v in self.high], "sigma": float(self.sigma),
                "x_shape": list(self.x_shape), "config": asdict(self.config),
                "seed": int(self.seed), "n_simulations": int(self.n_simulations),
                "history": self.history, "fit_seconds": self.fit_seconds}


def _f32(a: Any) -> jax.Array:
    return jnp.asarray(a, jnp.float32)


class _Core(eqx.Module):
    """The posterior's arrays and networks as one pytree (what the jitted functions see)."""

    pca_mean: jax.Array
    pca_basis: jax.Array
    c_scale: jax.Array
    p_mean: jax.Array
    p_std: jax.Array
    r_scale: jax.Array
    low: jax.Array
    high: jax.Array
    mlp: Any
    flow: Any
    dim: int = eqx.field(static=True)

    def __init__(self, post: AmortisedPosterior) -> None:
        self.pca_mean, self.pca_basis, self.c_scale = (
            _f32(a) for a in (post.pca_mean, post.pca_basis, post.c_scale))
        self.p_mean, self.p_std, self.r_scale = (
            _f32(a) for a in (post.p_mean, post.p_std, post.r_scale))
        self.low, self.high = _f32(post.low), _f32(post.high)
        self.mlp = eqx.combine(post.mlp_params, post.mlp_static)
        self.flow = eqx.combine(post.flow_params, post.flow_static)
        self.dim = post.dim

    def compress(self, x: jax.Array) -> jax.Array:
        c = (x - self.pca_mean) @ self.pca_basis.T / self.c_scale
        flat = c.reshape(-1, c.shape[-1])
        return jax.vmap(self.mlp)(flat).reshape(*c.shape[:-1], self.dim)

    def p_hat(self, s: jax.Array) -> jax.Array:
        return jnp.clip(self.p_mean + self.p_std * s, _EPS, 1 - _EPS)

    def centre(self, s: jax.Array) -> tuple[jax.Array, jax.Array]:
        """``(logit p_hat, p_hat (1 - p_hat) / r)``: the affine map u -> z given ``s``."""
        return _centre(s, self.p_mean, self.p_std, self.r_scale)

    def from_p(self, p: jax.Array) -> jax.Array:
        # float32 rounding can put lo + (hi - lo) p on the edge: keep draws strictly inside
        lo_in = jnp.nextafter(self.low, self.high)
        hi_in = jnp.nextafter(self.high, self.low)
        return jnp.clip(self.low + (self.high - self.low) * p, lo_in, hi_in)


@eqx.filter_jit
def _compress_jit(core: _Core, x: jax.Array) -> jax.Array:
    return core.compress(x)


@eqx.filter_jit
def _sample_jit(core: _Core, x: jax.Array, key: jax.Array, n: int) -> jax.Array:
    s = core.compress(x)                                        # (..., D)
    flow = paramax.unwrap(core.flow)
    batch = s.shape[:-1]
    s2 = s.reshape(-1, core.dim)
    keys = jr.split(key, s2.shape[0])
    z = jax.vmap(lambda k, c: flow.sample(k, (n,), condition=c))(keys, s2)  # (B, n, D)
    m, a = core.centre(s2)
    u = m[:, None, :] + z / a[:, None, :]
    return core.from_p(jax.nn.sigmoid(u)).reshape(*batch, n, core.dim)


@eqx.filter_jit
def _log_prob_jit(core: _Core, theta: jax.Array, x: jax.Array) -> jax.Array:
    s = core.compress(x)
    shape = jnp.broadcast_shapes(theta.shape[:-1], s.shape[:-1])
    theta = jnp.broadcast_to(theta, (*shape, core.dim))
    s = jnp.broadcast_to(s, (*shape, core.dim))
    lo, hi = core.low, core.high
    inside = jnp.all((theta > lo) & (theta < hi), axis=-1)
    th = jnp.clip(theta, lo + 1e-6 * (hi - lo), hi - 1e-6 * (hi - lo))
    m, a = core.centre(s)
    z = (_logit_box(th, lo, hi) - m) * a
    flow = paramax.unwrap(core.flow)
    lq = jax.vmap(flow.log_prob)(z.reshape(-1, core.dim), s.reshape(-1, core.dim))
    p = (th - lo) / (hi - lo)
    jac = jnp.sum(jnp.log(a) - jnp.log((hi - lo) * p * (1 - p)), axis=-1)
    return jnp.where(inside, lq.reshape(shape) + jac, -jnp.inf)


def _check_training(theta: Any, x: Any, low: Any, high: Any, sigma: float
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, tuple[int, ...]]:
    theta = np.asarray(theta, np.float64)
    x = np.asarray(x, np.float64)
    if theta.ndim != 2 or x.ndim < 2 or len(x) != len(theta):
        raise ValueError(f"theta (n, D) and x (n, ...) with the same n expected, got "
                         f"{theta.shape} and {x.shape}")
    lo, hi = np.asarray(low, np.float64), np.asarray(high, np.float64)
    if lo.shape != (theta.shape[1],) or hi.shape != lo.shape or not np.all(hi > lo):
        raise ValueError(f"low and high must be ({theta.shape[1]},) with high > low, got "
                         f"{lo} and {hi}")
    if not (np.all(np.isfinite(theta)) and np.all(np.isfinite(x))):
        raise ValueError("theta or x has non-finite values")
    if np.any(theta <= lo) or np.any(theta >= hi):
        raise ValueError("theta has values on or outside the box (low, high)")
    if not (math.isfinite(sigma) and sigma > 0):
        raise ValueError(f"sigma must be positive and finite, got {sigma!r}")
    return theta, x.reshape(len(x), -1), lo, hi, tuple(x.shape[1:])


def _epoch_fn(loss: Callable, opt: Any, draw: Callable, n_rows: int, steps: int,
              batch: int, val: Callable) -> Callable:
    """One jitted epoch ``(params, opt_state, key) -> (params, opt_state, train, val)``:
    ``draw(key)`` makes this epoch's data ``(a, b)`` (fresh noise), then ``steps`` shuffled
    minibatches of ``loss(params, a[idx], b[idx])``; ``val(params)`` the validation loss."""

    @eqx.filter_jit
    def epoch(p, state, key):
        k1, k2 = jr.split(key)
        order = jr.permutation(k1, n_rows)[:steps * batch].reshape(steps, batch)
        a, b = draw(k2)

        def step(carry, idx):
            p, state = carry
            value, g = eqx.filter_value_and_grad(loss)(p, a[idx], b[idx])
            upd, state = opt.update(g, state, p)
            return (eqx.apply_updates(p, upd), state), value

        (p, state), losses = jax.lax.scan(step, (p, state), order)
        return p, state, jnp.mean(losses), val(p)

    return epoch


def _train_epochs(epoch: Callable, params: Any, opt: Any, key: jax.Array, n_epochs: int,
                  label: str, fmt: str, say: Callable[[str], None]) -> tuple:
    """Run ``n_epochs`` of ``epoch``; keep the parameters of the best validation loss.

    Returns:
        (best params, best validation loss, ``{"train": [...], "val": [...]}``, the key).
    """
    state = opt.init(params)
    best, best_loss, hist = params, np.inf, {"train": [], "val": []}
    for i in range(n_epochs):
        key, ke = jr.split(key)
        params, state, tl, vl = epoch(params, state, ke)
        tl, vl = float(tl), float(vl)
        hist["train"].append(tl)
        hist["val"].append(vl)
        if vl < best_loss:
            best, best_loss = params, vl
        if i % 50 == 0 or i == n_epochs - 1:
            say(f"{label} epoch {i}: train {tl:{fmt}} val {vl:{fmt}}")
    return best, best_loss, hist, key


def train_amortised(theta: Any, x_clean: Any, low: Any, high: Any, sigma: float,
                    names: Sequence[str] | None = None, seed: int = 0,
                    options: Mapping[str, Any] | None = None,
                    log: Any = None,
                    reuse: AmortisedPosterior | None = None) -> AmortisedPosterior:
    r"""Train an amortised posterior from noise-free simulations (module docstring).

    Args:
        theta: ``(n, D)`` parameters of the simulations, strictly inside the box.
        x_clean: ``(n, *x_shape)`` noise-free simulated data.
        low, high: ``(D,)`` the prior box (uniform prior assumed: the simulations' design).
        sigma: standard deviation of the white Gaussian noise of the data (data units).
        names: parameter names (default ``theta_1 … theta_D``).
        seed: seeds the PCA, weights, splits, noise realisations and batch orders.
        options: :class:`AmortisedConfig` settings.
        log: a callable taking a string (progress lines), or None.
        reuse: a posterior trained on the same simulations with the same seed and split
            settings: its PCA and regression are kept and only the flow is trained (with the
            flow settings of ``options``).

    Returns:
        :class:`AmortisedPosterior`.

    Raises:
        ValueError: bad shapes, non-finite values, theta outside the box, sigma <= 0, too
            few simulations.
        ConfigError: an unknown or invalid option.
    """
    config = AmortisedConfig.from_options(options)
    theta, x, lo, hi, x_shape = _check_training(theta, x_clean, low, high, float(sigma))
    n, d = theta.shape
    names = tuple(names) if names is not None else tuple(f"theta_{i + 1}" for i in range(d))
    if len(names) != d:
        raise ValueError(f"{len(names)} names for {d} parameters")
    rng = np.random.default_rng(seed)
    perm = rng.permutation(n)
    n_flow = round(config.flow_fraction * n)
    n_fval = max(1, round(config.validation_fraction * n_flow))
    reg_idx, flow_idx = perm[n_flow:], perm[:n_flow]
    fval_idx, ftr_idx = flow_idx[:n_fval], flow_idx[n_fval:]
    batch = min(config.batch_size, len(reg_idx), max(len(ftr_idx), 1))
    if len(ftr_idx) < batch or len(reg_idx) < 2 * batch or n_fval < 10:
        raise ValueError(f"too few simulations ({n}) for batch_size {config.batch_size}, "
                         f"flow_fraction {config.flow_fraction}")
    k = min(config.n_components, x.shape[1], len(reg_idx) - 1)
    config = replace(config, n_components=k)
    say = log or (lambda _msg: None)
    timings: dict[str, float] = {}

    t0 = time.perf_counter()
    mean, basis, _ = _randomized_pca(x[reg_idx], k, seed)
    c_all = (x - mean) @ basis.T                                     # (n, k), noise-free
    c_scale = np.sqrt(c_all[reg_idx].var(axis=0) + sigma**2)
    pbox = (theta - lo) / (hi - lo)
    p_mean, p_std = pbox[reg_idx].mean(0), pbox[reg_idx].std(0)
    pw = ((pbox - p_mean) / p_std).astype(np.float32)            # regression targets
    u = _logit_box(theta, lo, hi).astype(np.float32)               # the flow's variable
    cw = (c_all / c_scale).astype(np.float32)
    noise_w = jnp.asarray(sigma / c_scale, jnp.float32)              # noise sd per input
    timings["pca"] = time.perf_counter() - t0
    say(f"PCA: {k} components in {timings['pca']:.1f} s")

    if reuse is not None:
        same = (reuse.n_simulations == n and reuse.seed == seed
                and reuse.config.flow_fraction == config.flow_fraction
                and reuse.config.n_components == k)
        if not same:
            raise ValueError("reuse: the posterior was trained on other simulations, seed or "
                             "split settings")
        keep = ("n_components", "reg_width", "reg_depth", "reg_epochs", "reg_learning_rate",
                "reg_weight_decay")
        config = replace(config, **{f: getattr(reuse.config, f) for f in keep})
        mean, basis, c_scale = reuse.pca_mean, reuse.pca_basis, reuse.c_scale
        c_all = (x - mean) @ basis.T
        cw = (c_all / c_scale).astype(np.float32)
        noise_w = jnp.asarray(sigma / c_scale, jnp.float32)
        p_mean, p_std = reuse.p_mean, reuse.p_std
        pw = ((pbox - p_mean) / p_std).astype(np.float32)

    mp, ms, fp, fs = _templates(config, d, seed)
    key = jr.key(seed + 1)

    # --- regression: MSE on fresh noisy copies every epoch -------------------------------
    t0 = time.perf_counter()
    creg, ureg = jnp.asarray(cw[reg_idx]), jnp.asarray(pw[reg_idx])
    cval, uval = jnp.asarray(cw[flow_idx]), jnp.asarray(pw[flow_idx])
    key, kv = jr.split(key)
    cval_noisy = cval + noise_w * jr.normal(kv, cval.shape)         # fixed validation noise
    steps = len(reg_idx) // batch
    sched = optax.cosine_decay_schedule(config.reg_learning_rate, config.reg_epochs * steps)
    opt = (optax.adamw(sched, weight_decay=config.reg_weight_decay)
           if config.reg_weight_decay else optax.adam(sched))

    def reg_loss(p, c, t):
        pred = jax.vmap(eqx.combine(p, ms))(c)
        return jnp.mean(jnp.sum((pred - t) ** 2, axis=-1))

    def draw_reg(k):
        return creg + noise_w * jr.normal(k, creg.shape), ureg

    reg_epoch = _epoch_fn(reg_loss, opt, draw_reg, creg.shape[0], steps, batch,
                          lambda p: reg_loss(p, cval_noisy, uval))
    best, best_loss, reg_hist, key = _train_epochs(
        reg_epoch, mp, opt, key, 0 if reuse is not None else config.reg_epochs,
        "regression", ".5f", say)
    if reuse is None and not np.isfinite(best_loss):
        raise ValueError("regression training failed: no finite validation loss")
    mp = best
    reg_hist["best_val"] = best_loss
    timings["regression"] = time.perf_counter() - t0
    if reuse is not None:
        mp, reg_hist = reuse.mlp_params, reuse.history["regression"]
        timings["regression"] = reuse.fit_seconds["regression"]
        timings["pca"] = reuse.fit_seconds["pca"]

    # --- residual scale on the flow's simulations (new to the regression) ----------------
    mlp = eqx.combine(mp, ms)
    key, kr = jr.split(key)
    cf = jnp.asarray(cw[flow_idx])
    res = pw[flow_idx] - np.asarray(jax.vmap(mlp)(cf + noise_w * jr.normal(kr, cf.shape)))
    r_scale = (res.std(axis=0) * p_std).astype(np.float64)
    say(f"regression residual sd on new simulations: {np.round(r_scale * (hi - lo), 4)} "
        f"(parameter units)")

    # --- flow of z(u; s) given s, fresh noise every epoch ---------------------------------
    t0 = time.perf_counter()
    ctr, utr = jnp.asarray(cw[ftr_idx]), jnp.asarray(u[ftr_idx])
    cfv, ufv = jnp.asarray(cw[fval_idx]), jnp.asarray(u[fval_idx])
    pm, ps, rj = (jnp.asarray(a, jnp.float32) for a in (p_mean, p_std, r_scale))

    def to_z(uu, ss):
        m, a = _centre(ss, pm, ps, rj)
        return (uu - m) * a

    key, kv = jr.split(key)
    sfv = jax.vmap(mlp)(cfv + noise_w * jr.normal(kv, cfv.shape))
    zfv = to_z(ufv, sfv)
    fsteps = max(1, len(ftr_idx) // batch)
    fsched = optax.cosine_decay_schedule(config.flow_learning_rate,
                                         config.flow_epochs * fsteps)
    fopt = optax.adam(fsched)

    def flow_loss(p, z, s):
        # the maximum-likelihood loss of u: that of z minus the log-Jacobian ln a(s), which
        # does not depend on the flow (left out)
        return -jnp.mean(paramax.unwrap(eqx.combine(p, fs)).log_prob(z, s))

    def draw_flow(k):
        sd = jax.vmap(mlp)(ctr + noise_w * jr.normal(k, ctr.shape))
        return to_z(utr, sd), sd

    flow_epoch = _epoch_fn(flow_loss, fopt, draw_flow, ctr.shape[0], fsteps, batch,
                           lambda p: flow_loss(p, zfv, sfv))
    fbest, fbest_loss, flow_hist, key = _train_epochs(flow_epoch, fp, fopt, key,
                                                      config.flow_epochs, "flow", ".4f", say)
    if not np.isfinite(fbest_loss):
        raise ValueError("flow training failed: no finite validation loss")
    flow_hist["best_val"] = fbest_loss
    timings["flow"] = time.perf_counter() - t0
    return AmortisedPosterior(
        names=names, low=lo, high=hi, sigma=float(sigma), x_shape=x_shape,
        pca_mean=mean, pca_basis=basis, c_scale=c_scale, p_mean=p_mean, p_std=p_std,
        r_scale=r_scale, mlp_params=mp, mlp_static=ms, flow_params=fbest, flow_static=fs,
        config=config, seed=int(seed), n_simulations=int(n),
        history={"regression": reg_hist, "flow": flow_hist,
                 "split": {"regression": int(len(reg_idx)), "flow_train": int(len(ftr_idx)),
                           "flow_validation": int(n_fval)}},
        fit_seconds=timings,
    )
