"""Bayesian evidence with the learnt harmonic mean estimator (exported as ``cosmoemu.evidence``)."""
