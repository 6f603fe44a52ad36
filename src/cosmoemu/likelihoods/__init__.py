"""Likelihoods as pure JAX functions: Planck 2018 plik_lite, DESI BAO, Gaussian test problems."""
