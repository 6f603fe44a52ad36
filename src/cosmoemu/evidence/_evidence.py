r"""``cosmoemu.evidence``: the learnt harmonic mean estimator of the Bayesian evidence.

References:
    McEwen, Wallis, Price & Spurio Mancini 2021, arXiv:2111.12720 (learnt harmonic mean).
    Polanska, Price, Spurio Mancini & McEwen 2023, arXiv:2307.00048 (with normalizing flows).
    Polanska et al. 2024, arXiv:2405.05969 (flows, high dimensions).
"""

from __future__ import annotations

import logging
import math
import os
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .._errors import unknown_name_message
from ..inference._chains import Chains
from ..inference._chains_io import read_chains
from ._chains import as_chains, counts, make_blocks, split_chains, usable_chains
from ._estimator import harmonic_estimate
from ._flows import FlowConfig
from ._train import FittedFlow, TooFewSamplesError, fit_flow

__all__ = [
    "EvidenceError", "EvidenceResult", "EvidenceWarning", "default_temperature", "evidence",
]

logger = logging.getLogger(__name__)

#: fewer blocks than this: the error estimate is itself too uncertain (warning)
FEW_BLOCKS = 10
#: one sample carrying more than this share of the estimate: warning ...
WEIGHT_FRACTION_WARN = 0.05
#: ... and more than this: the estimate is meaningless (error)
WEIGHT_FRACTION_REFUSE = 0.5
#: an ln Z error above this: the first-order (log) error propagation is unreliable (warning)
LARGE_ERROR = 0.5
#: the default temperature up to ``dim`` = 10 ...
BASE_TEMPERATURE = 0.8
BASE_DIM = 10


def default_temperature(dim: int) -> float:
    r"""The default temperature for ``dim`` parameters: 0.8 up to 10, closer to 1 above.

    A flow equal to the posterior, concentrated to temperature :math:`T`, still gives ratios
    :math:`\varphi_T/p` of relative variance

    .. math::

        \operatorname{Var}_p\!\left[\frac{\varphi_T}{p}\right] =
            \big[T(2 - T)\big]^{-D/2} - 1

    (a Gaussian posterior), which grows exponentially with :math:`D` at fixed :math:`T`: 0.23
    at :math:`D = 10`, :math:`T = 0.8`, but 23 at :math:`D = 157` (an effective sample size of
    4 % of the samples, and block estimates too heavy-tailed for their error to be trusted).
    The default keeps that variance at its :math:`D = 10` value,
    :math:`T(2-T) = 0.96^{10/D}`, i.e.

    .. math:: T = \max\left(0.8,\; 1 - \sqrt{1 - 0.96^{10/D}}\right)

    (0.8 for :math:`D \le 10`; 0.89 at 32, 0.92 at 64, 0.949 at 157).
    """
    if dim <= BASE_DIM:
        return BASE_TEMPERATURE
    keep = (BASE_TEMPERATURE * (2 - BASE_TEMPERATURE)) ** (BASE_DIM / dim)
    return max(BASE_TEMPERATURE, 1.0 - math.sqrt(1.0 - keep))


class EvidenceError(ValueError):
    """The evidence estimate would be meaningless (one block, one sample carrying it all)."""


class EvidenceWarning(UserWarning):
    """A diagnostic of the evidence estimate failed: treat ln Z and its error with care."""


@dataclass(frozen=True)
class EvidenceResult:
    """The evidence estimate, its error and the diagnostics behind them.

    Attributes:
        ln_z: :math:`\\ln\\hat Z` (natural log).
        ln_z_err: its standard error, from the scatter of the block estimates.
        n_samples: weight (samples, repeats counted) that the estimate averages over.
        n_train: samples the flow was fitted to (0 for a pre-fitted flow).
        n_chains: chains read.
        n_blocks: blocks behind the error (chains, cut when there are few).
        kurtosis: kurtosis of the block estimates (3 for Gaussian scatter).
        error_of_error: relative standard error of ``ln_z_err``.
        log_ratio_range: dynamic range (max - min) of :math:`\\ln\\varphi - \\ln(L\\pi)`.
        max_weight_fraction: largest share of the estimate carried by a single sample.
        ratio_ess: effective sample size of the ratios :math:`\\varphi/(L\\pi)`.
        temperature: base variance :math:`T` of the concentrated flow.
        flow: kind of flow (``"realnvp"``, ``"rqspline"``).
        dim: number of parameters.
        names: parameter names, when known.
        seed: seed of the flow fit.
        fit_seconds, estimate_seconds: wall times of the flow fit and of the estimate.
        warnings: diagnostics that failed, as messages.
        fit: summary of the flow fit (epochs, losses, settings).
        fitted_flow: the flow itself (reuse it with ``evidence(..., flow=result.fitted_flow)``).
    """

    ln_z: float
    ln_z_err: float
    n_samples: int
    n_train: int
    n_chains: int
    n_blocks: int
    kurtosis: float
    error_of_error: float
    log_ratio_range: float
    max_weight_fraction: float
    ratio_ess: float
    temperature: float
    flow: str
    dim: int
    names: tuple[str, ...] | None
    seed: int
    fit_seconds: float
    estimate_seconds: float
    warnings: tuple[str, ...] = ()
    fit: dict[str, Any] = field(default_factory=dict, repr=False)
    fitted_flow: FittedFlow | None = field(default=None, repr=False, compare=False)

    @property
    def ln_inv_z(self) -> float:
        """:math:`\\ln(1/\\hat Z)`, the quantity the harmonic mean estimates."""
        return -self.ln_z

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (NaN becomes None); the fitted flow is left out."""
        out: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            if name == "fitted_flow":
                continue
            value = getattr(self, name)
            if isinstance(value, tuple):
                value = list(value)
            if isinstance(value, float) and not math.isfinite(value):
                value = None
            out[name] = value
        return out

    def __str__(self) -> str:
        lines = [
            f"ln Z = {self.ln_z:.4f} ± {self.ln_z_err:.4f}",
            f"  flow {self.flow}, T = {self.temperature:g}, dim {self.dim}, "
            f"{self.n_train} training / {self.n_samples} evaluation samples, "
            f"{self.n_chains} chains → {self.n_blocks} blocks",
            f"  kurtosis {self.kurtosis:.2f}, error of error {100 * self.error_of_error:.0f}%, "
            f"log-ratio range {self.log_ratio_range:.1f}, largest sample share "
            f"{self.max_weight_fraction:.2g}, ratio ESS {self.ratio_ess:.0f}",
            f"  fit {self.fit_seconds:.1f} s, estimate {self.estimate_seconds:.2f} s",
        ]
        lines += [f"  WARNING: {w}" for w in self.warnings]
        return "\n".join(lines)


def evidence(
    samples: Chains | Any | ArrayLike | Sequence[ArrayLike] | str | os.PathLike,
    log_posterior: ArrayLike | Sequence[ArrayLike] | None = None,
    *,
    weights: ArrayLike | Sequence[ArrayLike] | None = None,
    params: Sequence[str] | None = None,
    burn_in: float = 0.0,
    flow: str | FittedFlow = "realnvp",
    temperature: float | None = None,
    training_fraction: float = 0.5,
    min_blocks: int = 50,
    min_block_size: int = 100,
    flow_options: Mapping[str, Any] | None = None,
    seed: int = 0,
    progress: bool = False,
) -> EvidenceResult:
    r"""Bayesian evidence :math:`\ln Z` from posterior samples, with the learnt harmonic mean.

    For any normalised density :math:`\varphi`,

    .. math::

        \mathbb{E}_{\theta \sim p(\theta|d)}\left[\frac{\varphi(\theta)}
            {L(\theta)\,\pi(\theta)}\right] = \frac{1}{Z},

    and the average has a finite variance when :math:`\varphi` has narrower tails than the
    posterior. :math:`\varphi` is a normalizing flow fitted to the first
    ``training_fraction`` of every chain (whitened with the full covariance) and concentrated by
    the temperature :math:`T`, the variance of its Gaussian base:

    .. math::

        \varphi_T(\theta) = \mathcal{N}\big(g(x);\,0,\,T\,\mathbb{1}\big)
            \left\lvert\det\frac{\partial g}{\partial x}\right\rvert
            \lvert\det L^{-1}\rvert, \qquad x = L^{-1}(\theta - \mu),\quad 0 < T < 1.

    The average runs over the rest of every chain, in log space and float64; its error comes
    from the scatter of per-block estimates (a block is a chain or, with fewer than
    ``min_blocks`` chains, a contiguous piece of one), see :mod:`._estimator`.

    Args:
        samples: posterior samples: a sampler's output (the
            :class:`~cosmoemu.inference.SampleResult` of :func:`cosmoemu.sample_posterior`),
            :class:`~cosmoemu.inference.Chains`, a chain root / folder of Cobaya, GetDist or
            cosmoemu chain files (see :func:`~cosmoemu.inference.read_chains`) — for these three
            the sampled parameters and ``log_posterior`` come with them — or an array
            ``(chains, samples, dim)`` or ``(samples, dim)``, or a sequence of ``(n_j, dim)``
            arrays (chains of unequal length).
        log_posterior: :math:`\ln L + \ln\pi` at every sample, with the prior *normalised* in
            the sampled parameters: ``(chains, samples)``, ``(samples,)`` or per-chain arrays.
        weights: integer repeat counts (MCMC weights), same layout as ``log_posterior``;
            non-integer weights are refused.
        params: for chains and chain files, the sampled parameters in any order (default: those
            the chains name as sampled); needed only for files that do not say. Derived
            parameters and subsets raise :class:`EvidenceError`: ``minuslogpost`` is a density
            in exactly the sampled parameters.
        burn_in: fraction of each chain to drop from its start (default 0).
        flow: ``"realnvp"`` (affine coupling, default), ``"rqspline"`` (spline coupling), or a
            :class:`FittedFlow` fitted to other samples of the same posterior (then every
            sample here is used for the estimate).
        temperature: :math:`T`, in (0, 1); default :func:`default_temperature` of the number
            of parameters (0.8 up to 10 parameters, 0.949 at 157).
        training_fraction: share of each chain's rows the flow is fitted to.
        min_blocks: cut chains into contiguous blocks until there are this many blocks ...
        min_block_size: ... but no block lighter than this many samples.
        flow_options: architecture and training settings, see :class:`FlowConfig`.
        seed: seed of the flow fit (initial weights, validation split, batches).
        progress: progress bar during the fit.

    Returns:
        :class:`EvidenceResult` with ``ln_z``, ``ln_z_err`` and the diagnostics. Failed
        diagnostics are listed in ``result.warnings`` and raised as :class:`EvidenceWarning`.

    Raises:
        EvidenceError: only one block, or one sample carrying more than half the estimate.
        ValueError: inconsistent or non-finite input, non-integer weights, bad settings.
        ConfigError: unknown ``flow`` kind or ``flow_options``.

    Example:
        >>> import numpy as np, cosmoemu
        >>> rng = np.random.default_rng(0)
        >>> theta = rng.standard_normal((8, 2000, 3))            # exact posterior N(0, 1)
        >>> log_post = -0.5 * (theta**2).sum(-1) - 1.5 * np.log(2 * np.pi) - 4.0
        >>> result = cosmoemu.evidence(theta, log_post)           # ln Z = -4
        >>> abs(result.ln_z + 4.0) < 5 * result.ln_z_err + 0.01
        True
    """
    if temperature is not None and not 0 < temperature < 1:
        raise ValueError(
            f"temperature must be in (0, 1) (the flow must be narrower than the posterior), "
            f"got {temperature!r}"
        )
    chains, names = _load(samples, log_posterior, weights, params, burn_in)
    if temperature is None:
        temperature = default_temperature(chains.dim)
    t0 = time.perf_counter()
    if isinstance(flow, FittedFlow):
        if flow_options:
            raise ValueError("flow_options cannot be used with an already fitted flow")
        if flow.dim != chains.dim:
            raise ValueError(f"the fitted flow has dim {flow.dim}, the samples have {chains.dim}")
        fitted, evaluate, n_train = flow, chains, 0
        fit_seconds = 0.0
    else:
        config = FlowConfig.from_options(flow, flow_options)
        train, evaluate = split_chains(chains, training_fraction)
        n_train = int(train.shape[0])
        logger.info("fitting a %s flow to %d samples of %d parameters", flow, n_train, chains.dim)
        try:
            fitted = fit_flow(train, config, seed=seed, progress=progress)
        except TooFewSamplesError as err:
            rows = int(sum(chains.lengths))
            need = math.ceil(rows * err.needed / max(n_train, 1))
            raise EvidenceError(
                f"too few samples for the evidence: {rows} draws in {chains.n_chains} chains, of "
                f"which the first {100 * training_fraction:.0f}% of each chain ({n_train}) train "
                f"the flow; it needs about {need} draws ({err.needed} to train the flow, "
                f"{chains.dim} parameters). Draw more: run the sampler longer (raise "
                "sampler.nuts.target_ess or max_draws), run more chains, or drop less burn-in"
            ) from err
        fit_seconds = time.perf_counter() - t0

    t1 = time.perf_counter()
    theta = np.concatenate(evaluate.samples)
    log_post = -evaluate.flat_minuslogpost
    repeats = counts(evaluate)
    log_phi = fitted.log_density(theta, temperature)
    blocks = make_blocks(repeats, min_blocks, min_block_size)
    est = harmonic_estimate(log_phi - log_post, np.concatenate(repeats), blocks)
    estimate_seconds = time.perf_counter() - t1

    _refuse(est)
    messages = _diagnose(est)
    for message in messages:
        warnings.warn(message, EvidenceWarning, stacklevel=2)
    return EvidenceResult(
        ln_z=-est.ln_inv_z,
        ln_z_err=est.ln_z_err,
        n_samples=est.n_samples,
        n_train=n_train,
        n_chains=chains.n_chains,
        n_blocks=est.n_blocks,
        kurtosis=est.kurtosis,
        error_of_error=est.error_of_error,
        log_ratio_range=est.log_ratio_range,
        max_weight_fraction=est.max_weight_fraction,
        ratio_ess=est.ratio_ess,
        temperature=float(temperature),
        flow=fitted.config.kind,
        dim=chains.dim,
        names=names,
        seed=fitted.seed,
        fit_seconds=fit_seconds,
        estimate_seconds=estimate_seconds,
        warnings=tuple(messages),
        fit=fitted.summary(),
        fitted_flow=fitted,
    )


def _load(samples, log_posterior, weights, params, burn_in) -> tuple[Chains, tuple | None]:
    """Checked chains from any accepted input, and the parameter names (None if unknown)."""
    chains = getattr(samples, "chains", samples)  # a SampleResult holds its Chains
    if isinstance(samples, str | os.PathLike) or isinstance(chains, Chains):
        if log_posterior is not None or weights is not None:
            raise ValueError(
                "log_posterior and weights come with the chains; do not pass them too")
        if not isinstance(chains, Chains):
            try:
                chains = read_chains(samples)
            except ValueError:
                if params is None:
                    raise
                # files that do not say which parameters are sampled: params says it
                chains = read_chains(samples, params=params)
        if params is not None:
            chains = chains.select(_check_params(chains, params))
        chains = usable_chains(chains).drop_burn_in(burn_in)
        return chains, chains.names
    if log_posterior is None:
        raise ValueError("log_posterior (ln L + ln prior at every sample) is required")
    if params is not None:
        raise ValueError("params selects columns of chains; slice the arrays instead")
    return as_chains(samples, log_posterior, weights).drop_burn_in(burn_in), None


def _check_params(chains: Chains, params: Sequence[str]) -> list[str]:
    """``params`` if they are exactly the sampled parameters (in any order), else an error.

    The learnt harmonic mean needs the density the chains were drawn from, ``minuslogpost``, in
    the coordinates it is a density of: every sampled parameter and nothing else. A derived
    parameter adds a direction in which the draws have no density (the estimate is wrong, not
    noisy); a subset needs the marginal posterior, which ``minuslogpost`` is not.
    """
    params = [str(p) for p in params]
    sampled = list(chains.names)
    told = f"The chains' sampled parameters are: {', '.join(sampled)}"
    hint = f"leave --params (params=) out, or give exactly those ({','.join(sampled)})"
    derived = [p for p in params if p in chains.derived_names]
    if derived:
        what = "is a derived parameter" if len(derived) == 1 else "are derived parameters"
        raise EvidenceError(
            f"{', '.join(derived)} {what} (a function of the sampled ones): the evidence needs "
            f"exactly the sampled parameters, since minuslogpost is a density in those. "
            f"{told}; {hint}")
    unknown = [p for p in params if p not in chains.all_names]
    if unknown:
        raise EvidenceError(
            unknown_name_message("parameter", unknown[0], chains.all_names) + f". {told}")
    missing = [p for p in sampled if p not in params]
    if missing:
        raise EvidenceError(
            f"--params / params= leaves out the sampled parameter(s) {', '.join(missing)}: the "
            "evidence needs every sampled parameter (minuslogpost is the joint density, not the "
            f"marginal of a subset). {told}; {hint}")
    if len(set(params)) != len(params):
        raise EvidenceError(f"a parameter is named twice in {params}. {told}")
    return params


def _refuse(est) -> None:
    if est.n_blocks < 2:
        raise EvidenceError(
            f"the error of ln Z needs at least 2 blocks, got {est.n_blocks} "
            f"({est.n_samples} evaluation samples): give more chains or samples, or lower "
            "min_block_size"
        )
    if not math.isfinite(est.ln_inv_z):
        raise EvidenceError(
            f"the harmonic-mean sum is {est.ln_inv_z}: the flow and the log posterior disagree "
            "everywhere; check that log_posterior is ln L + ln prior at these samples"
        )
    if est.max_weight_fraction > WEIGHT_FRACTION_REFUSE:
        raise EvidenceError(
            f"one sample carries {100 * est.max_weight_fraction:.0f}% of the estimate "
            f"(log-ratio range {est.log_ratio_range:.1f}): the estimate is meaningless. Check "
            "that log_posterior belongs to these samples, lower the temperature, or draw more "
            "samples"
        )


def _diagnose(est) -> list[str]:
    out = []
    if est.n_blocks < FEW_BLOCKS:
        out.append(
            f"only {est.n_blocks} blocks: the error of ln Z is itself uncertain by "
            f"~{100 / math.sqrt(2 * (est.n_blocks - 1)):.0f}%"
        )
    kurt_max = 3 + 5 * math.sqrt(24 / est.n_blocks)
    if est.kurtosis > kurt_max:
        out.append(
            f"kurtosis of the block estimates is {est.kurtosis:.1f} (> {kurt_max:.1f}; 3 for "
            "Gaussian scatter): rare large ratios dominate, the flow may be wider than the "
            "posterior somewhere; the error of ln Z is unreliable. Lower the temperature"
        )
    if est.max_weight_fraction > WEIGHT_FRACTION_WARN:
        out.append(
            f"one sample carries {100 * est.max_weight_fraction:.0f}% of the estimate "
            f"(log-ratio range {est.log_ratio_range:.1f}): the estimate rests on few samples. "
            f"Draw more samples (now {est.n_samples} evaluate it; aim for no sample above "
            f"{100 * WEIGHT_FRACTION_WARN:.0f}%) or lower the temperature"
        )
    if est.ln_z_err > LARGE_ERROR:
        out.append(
            f"ln Z error {est.ln_z_err:.2f} is large: its first-order propagation is unreliable"
        )
    return out
