"""Bayes factors: differences of ln Z, with errors combined in log space."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ._evidence import EvidenceResult

__all__ = ["BayesFactor", "bayes_factor"]


@dataclass(frozen=True)
class BayesFactor:
    r"""The log Bayes factor :math:`\ln B_{ab} = \ln Z_a - \ln Z_b` and its standard error.

    Attributes:
        ln_b: :math:`\ln B_{ab}` (natural log); positive favours model ``a``.
        ln_b_err: :math:`\sqrt{\sigma_a^2 + \sigma_b^2}` (independent estimates).
    """

    ln_b: float
    ln_b_err: float

    @property
    def sigma(self) -> float:
        """:math:`\\ln B / \\sigma`: how many standard errors from equal evidence."""
        if self.ln_b_err > 0:
            return self.ln_b / self.ln_b_err
        return math.copysign(math.inf, self.ln_b) if self.ln_b else 0.0

    def __str__(self) -> str:
        return f"ln B = {self.ln_b:.4f} ± {self.ln_b_err:.4f}"


def _ln_z(value: EvidenceResult | tuple[float, float], name: str) -> tuple[float, float]:
    if isinstance(value, EvidenceResult) or (hasattr(value, "ln_z")
                                             and hasattr(value, "ln_z_err")):
        # EvidenceResult, or any result with both (cosmoemu.sbi.SBIEvidence)
        return float(value.ln_z), float(value.ln_z_err)
    try:
        ln_z, err = (float(v) for v in value)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"{name} must be an EvidenceResult or a pair (ln_z, ln_z_err), got {value!r}"
        ) from exc
    if not (math.isfinite(ln_z) and math.isfinite(err) and err >= 0):
        raise ValueError(f"{name}: ln_z must be finite and ln_z_err finite and >= 0, got {value!r}")
    return ln_z, err


def bayes_factor(
    a: EvidenceResult | tuple[float, float], b: EvidenceResult | tuple[float, float]
) -> BayesFactor:
    r"""Log Bayes factor of model ``a`` over model ``b``.

    .. math::

        \ln B_{ab} = \ln Z_a - \ln Z_b, \qquad
        \sigma_{\ln B} = \sqrt{\sigma_{\ln Z_a}^2 + \sigma_{\ln Z_b}^2}.

    Everything stays in log space, so evidences of any size (:math:`\ln(1/Z) \approx 800`,
    where :math:`Z` underflows float64) give a finite answer.

    Args:
        a, b: evidence results (anything with ``ln_z`` and ``ln_z_err``, such as
            :class:`cosmoemu.sbi.SBIEvidence`), or ``(ln_z, ln_z_err)`` pairs.

    Returns:
        :class:`BayesFactor`.

    Example:
        >>> from cosmoemu import bayes_factor
        >>> str(bayes_factor((-800.0, 0.03), (-805.0, 0.04)))
        'ln B = 5.0000 ± 0.0500'
    """
    ln_a, err_a = _ln_z(a, "a")
    ln_b, err_b = _ln_z(b, "b")
    return BayesFactor(ln_b=ln_a - ln_b, ln_b_err=math.hypot(err_a, err_b))
