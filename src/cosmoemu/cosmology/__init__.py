"""Cosmology in JAX: background quantities (used by BAO and derived parameters)."""
