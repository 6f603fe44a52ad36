r"""Posterior samples and the model evidence from an SBI estimator.

NLE
    :math:`q(x\mid\theta)` is normalised over the data, so :math:`Z = \int q(x_o\mid\theta)
    \pi(\theta)\,d\theta` is the model's :math:`p(x_o)`. We sample
    :math:`\ln L(\theta) + \ln\pi(\theta)`, with :math:`L` the ensemble's mixture
    :math:`\frac1K\sum_k q_k(x_o\mid\theta)`, with our NUTS (a
    :class:`~cosmoemu.inference.Posterior`, unconstrained coordinates, soft walls) and give the
    chains to :func:`cosmoemu.evidence` (the learnt harmonic mean, its error and diagnostics).
    The estimator's own error comes from the ensemble: each member's evidence is
    :math:`Z_k = \hat Z\,\mathbb{E}_{\text{post}}[q_k/L]`, estimated on the same draws, and their
    scatter (standard deviation, not of the mean: the members share their training data and
    the mixture is not much better than a member) is added in quadrature to the harmonic
    mean's error.

NPE and NRE
    A posterior density :math:`q(\theta\mid x_o)` is normalised over :math:`\theta` for every
    :math:`x_o`; a ratio :math:`r = p(x\mid\theta)/p(x)` integrates to one against the prior for
    every :math:`x_o`. Both have divided :math:`p(x_o)` out: the harmonic mean on them returns
    :math:`\ln Z = 0` up to training error, for any model. The evidence needs a density over the
    data: an NLE, or a learned marginal :math:`q(x)` (then :math:`\ln Z = \ln q(x_o)`
    directly). :func:`evidence` raises a :class:`ValueError` saying so.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from scipy.special import logsumexp

from ..evidence._evidence import EvidenceResult, EvidenceWarning
from ..evidence._evidence import evidence as harmonic_evidence
from ..inference._chains import Chains
from ..inference._nuts import NUTSConfig
from ..inference._posterior import Posterior
from ..inference._sample import SampleResult, sample_posterior
from ._estimator import EnsembleLikelihood, Estimator

__all__ = ["SBIEvidence", "evidence", "posterior"]

#: NUTS settings of an evidence run: 4 chains of 2,500 kept draws (10,000 samples: half fit
#: the harmonic mean's flow, half evaluate it in 50 blocks)
EVIDENCE_NUTS = {"num_chains": 4, "num_warmup": 200, "min_draws": 2500, "max_draws": 2500}


def _nuts_config(nuts: NUTSConfig | Mapping[str, Any] | None) -> NUTSConfig:
    if isinstance(nuts, NUTSConfig):
        return nuts
    return NUTSConfig(**{**EVIDENCE_NUTS, **dict(nuts or {})})


def _no_evidence(est: Estimator) -> ValueError:
    if est.method == "npe":
        what = ("an NPE learns q(θ|x), normalised over θ for every x: the normalisation over "
                "the data, which the evidence p(x_o) is, has been divided out")
    else:
        what = ("an NRE learns r = p(x|θ)/p(x), which integrates to 1 against the prior for "
                "every x: p(x_o), the evidence, has been divided out (the harmonic mean of its "
                "posterior gives ln Z ≈ 0 for any model)")
    return ValueError(
        f"cosmoemu.sbi.evidence: {what}, so this estimator cannot give the model evidence on "
        "its own. Use an NLE trained on the same simulations (cosmoemu.sbi.train('nle', theta, "
        "x, prior)), or combine this estimator with a learned marginal density of the data "
        "q(x) (then ln Z = ln q(x_o); with an NRE, ln L = ln r + ln q(x)). The posterior "
        "samples of this estimator are available from cosmoemu.sbi.posterior")


def posterior(
    est: Estimator,
    x_obs: Any,
    seed: int = 0,
    *,
    nuts: NUTSConfig | Mapping[str, Any] | None = None,
    n_samples: int = 10_000,
    progress: bool = False,
) -> SampleResult | Chains:
    r"""Posterior samples of the estimator at an observation.

    NLE and NRE: NUTS (:func:`~cosmoemu.inference.sample_posterior`) on
    :math:`\ln L + \ln\pi` with :math:`L` the NLE mixture or the NRE ratio, in the posterior's
    unconstrained coordinates; returns the :class:`~cosmoemu.inference.SampleResult`, whose
    chains' ``minuslogpost`` is :math:`-(\ln L + \ln\pi)` (for an NRE, :math:`L = r`: not the
    likelihood's normalisation, see :func:`evidence`).
    NPE: ``n_samples`` independent draws of :math:`q(\theta\mid x_o)` as one chain, with
    ``minuslogpost`` NaN (the flow gives the normalised posterior, not
    :math:`L\pi`), returned as :class:`~cosmoemu.inference.Chains`.

    Args:
        est: the estimator.
        x_obs: the observed data, ``(N,)``.
        seed: PRNG seed.
        nuts: :class:`~cosmoemu.inference.NUTSConfig` or its fields (default
            :data:`EVIDENCE_NUTS`).
        n_samples: NPE draws.
        progress: progress bar.
    """
    if est.method == "npe":
        return _npe_draws(est, x_obs, seed, n_samples)
    lik = EnsembleLikelihood(est, x_obs)
    priors, _ = est.priors()
    post = Posterior(priors, {est.method: lik})
    return sample_posterior(post, jax.random.key(seed), _nuts_config(nuts), progress=progress)


def _npe_draws(est: Estimator, x_obs: Any, seed: int, n: int) -> Chains:
    import paramax

    x = np.asarray(x_obs, np.float64)
    if x.shape != (est.x_dim,):
        raise ValueError(f"x_obs must have shape ({est.x_dim},), got {x.shape}")
    xw = jnp.asarray(est.x_whitening.apply(x), jnp.float32)
    k = est.n_members
    keys = jax.random.split(jax.random.key(seed), k)
    per = -(-n // k)

    def draw(params, key):
        flow = paramax.unwrap(eqx.combine(params, est.static))
        return flow.sample(key, (per,), condition=xw)

    tw = np.asarray(jax.vmap(draw)(est.params, keys)).reshape(-1, est.theta_dim)[:n]
    w = est.theta_whitening
    theta = tw.astype(np.float64) @ np.linalg.inv(w.inv_chol).T + w.mean
    priors, names = est.priors()
    lp = np.zeros(len(theta))
    col = 0
    for prior in priors.values():
        cols = theta[:, col:col + prior.size]
        lp += np.asarray(prior.logpdf(cols if prior.size > 1 else cols[:, 0]), np.float64)
        col += prior.size
    keep = np.isfinite(lp)  # a flow puts a little mass outside a bounded prior
    return Chains(names=names, samples=theta[keep][None], minuslogpost=np.full((1, keep.sum()),
                                                                              np.nan))


@dataclass(frozen=True)
class SBIEvidence:
    r"""The evidence of a model from its NLE, at one observation.

    Attributes:
        ln_z: :math:`\ln\hat Z = \ln\hat p(x_o)` of the NLE ensemble (its mixture density).
        ln_z_err: total standard error, :math:`\sqrt{\sigma_\mathrm{sampling}^2 +
            \sigma_\mathrm{estimator}^2}`.
        sampling_err: the learnt harmonic mean's error (finite posterior samples).
        estimator_err: the NLE's error: the scatter of the members' evidences (0 for a
            single network, with a warning: then only the sampling error is known).
        member_ln_z: each member's :math:`\ln Z_k`, ``(K,)``.
        harmonic: the :class:`~cosmoemu.evidence.EvidenceResult` of the chains (diagnostics).
        method: ``"nle"``.
        n_simulations: simulations the estimator was trained on.
        seconds: wall times, ``sampling`` (NUTS, compilation included), ``evidence``,
            ``members``, ``total``.
        warnings: failed diagnostics, as messages.
        sample: the NUTS run (chains in ``sample.chains``).
    """

    ln_z: float
    ln_z_err: float
    sampling_err: float
    estimator_err: float
    member_ln_z: tuple[float, ...]
    harmonic: EvidenceResult = field(repr=False)
    method: str = "nle"
    n_simulations: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    sample: SampleResult | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (the harmonic mean's result as a dict, no samples)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)
               if f.name not in ("sample", "harmonic")}
        out["member_ln_z"] = list(self.member_ln_z)
        out["warnings"] = list(self.warnings)
        out["harmonic"] = self.harmonic.to_dict()
        return out

    def __str__(self) -> str:
        lines = [f"ln Z = {self.ln_z:.4f} ± {self.ln_z_err:.4f} ({self.method.upper()}, "
                 f"{self.n_simulations} simulations; sampling ± {self.sampling_err:.4f}, "
                 f"estimator ± {self.estimator_err:.4f} from {len(self.member_ln_z)} members)"]
        lines += [f"  WARNING: {w}" for w in self.warnings]
        return "\n".join(lines)


@eqx.filter_jit
def _members(lik: EnsembleLikelihood, theta: jax.Array) -> jax.Array:
    return jax.vmap(lik.members)(theta)


def evidence(
    est: Estimator,
    x_obs: Any,
    seed: int = 0,
    *,
    nuts: NUTSConfig | Mapping[str, Any] | None = None,
    evidence_options: Mapping[str, Any] | None = None,
    progress: bool = False,
) -> SBIEvidence:
    r"""The model evidence :math:`\ln p(x_o)` from a neural likelihood estimator.

    NUTS on the NLE's :math:`\ln L(\theta) + \ln\pi(\theta)` (see :func:`posterior`), then
    :func:`cosmoemu.evidence` on the chains; the ensemble's scatter adds the estimator's error
    (module docstring).

    Args:
        est: an NLE (:func:`~cosmoemu.sbi.train` with ``"nle"``).
        x_obs: the observed data, ``(N,)``.
        seed: seeds NUTS and the harmonic mean's flow.
        nuts: NUTS settings (default :data:`EVIDENCE_NUTS`: 4 × 2,500 draws).
        evidence_options: keyword arguments of :func:`cosmoemu.evidence` (``temperature``,
            ``flow``, ``flow_options``, ...).
        progress: progress bars.

    Returns:
        :class:`SBIEvidence`.

    Raises:
        ValueError: for an NPE or an NRE, which cannot give the model evidence on their own
            (the message says which combination can); a bad ``x_obs``.
        EvidenceError: the harmonic mean's refusals (too few samples, one sample carrying it).
    """
    if est.method != "nle":
        raise _no_evidence(est)
    t0 = time.perf_counter()
    res = posterior(est, x_obs, seed, nuts=nuts, progress=progress)
    t1 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", EvidenceWarning)
        harm = harmonic_evidence(res, seed=seed, progress=progress,
                                 **dict(evidence_options or {}))
    for w in caught:
        warnings.warn(w.message, w.category, stacklevel=2)
    t2 = time.perf_counter()
    # each member's evidence, reweighting the mixture's posterior draws
    lik = EnsembleLikelihood(est, x_obs)
    theta = np.concatenate(res.chains.samples)
    dt = jnp.zeros(()).dtype
    per = np.asarray(_members(lik, jnp.asarray(theta, dt)), np.float64)  # (n, K)
    mix = logsumexp(per, axis=1) - math.log(per.shape[1])
    member = harm.ln_z + logsumexp(per - mix[:, None], axis=0) - math.log(len(theta))
    messages = list(harm.warnings)
    if len(member) > 1:
        est_err = float(np.std(member, ddof=1))
    else:
        est_err = 0.0
        messages.append("a single network: the NLE's own error is unknown and not included "
                        "in ln_z_err (train with options={'ensemble': 5})")
        warnings.warn(messages[-1], EvidenceWarning, stacklevel=2)
    t3 = time.perf_counter()
    return SBIEvidence(
        ln_z=float(harm.ln_z), ln_z_err=float(math.hypot(harm.ln_z_err, est_err)),
        sampling_err=float(harm.ln_z_err), estimator_err=est_err,
        member_ln_z=tuple(float(v) for v in member), harmonic=harm, method=est.method,
        n_simulations=est.n_simulations,
        seconds={"sampling": t1 - t0, "evidence": t2 - t1, "members": t3 - t2, "total": t3 - t0},
        warnings=tuple(messages), sample=res,
    )
