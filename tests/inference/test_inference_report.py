"""Run reports: the advice printed after a run that diverged or did not converge; labels."""

from __future__ import annotations

import numpy as np

from cosmoemu.inference import Chains
from cosmoemu.inference._derived import latex_label
from cosmoemu.inference._report import sampling_hints


def _chains(columns: dict[str, np.ndarray]) -> Chains:
    x = np.stack(list(columns.values()), axis=-1)[None]
    return Chains(names=tuple(columns), samples=x, minuslogpost=np.zeros(x.shape[:2]),
                  weights=np.ones(x.shape[:2]))


def test_hints_name_the_parameter_at_a_prior_wall_and_the_count():
    """A half-normal posterior against the bound 0 of its prior (mean 0.8σ from it), and a
    parameter whose prior is 10⁴ posterior widths wide: the hints give the divergence count and
    name both, with the remedies."""
    rng = np.random.default_rng(0)
    n = 4000
    chains = _chains({"m_nu": np.abs(rng.normal(0.0, 0.1, n)),
                      "w": rng.normal(-1.0, 0.01, n),
                      "ok": rng.normal(0.5, 0.01, n)})
    supports = {"m_nu": (0.0, 1.0), "w": (-60.0, 60.0), "ok": (0.0, 1.0)}
    hints = sampling_hints(chains, supports, divergences=1067, converged=False)
    text = "\n".join(hints)
    assert "1067 divergent transitions (26.7% of 4000 draws)" in text
    assert "not converged" in text
    assert "hard prior wall: m_nu (mean" in text and "lower bound 0)" in text
    assert "Very wide priors: w (prior width 120" in text
    assert "ok (" not in text  # well inside a prior 100σ wide: not named
    assert "init: window" in text


def test_no_hints_for_a_clean_run():
    rng = np.random.default_rng(1)
    chains = _chains({"a": rng.normal(0.0, 1.0, 1000)})
    assert sampling_hints(chains, {"a": (-10.0, 10.0)}, divergences=0, converged=True) == []


def test_h0_label_has_units():
    assert latex_label("H0") == r"H_0\,[\mathrm{km\,s^{-1}\,Mpc^{-1}}]"
