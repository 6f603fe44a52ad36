"""Priors, posterior assembly, samplers, diagnostics, chain I/O and plots."""
