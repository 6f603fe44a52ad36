"""PCA (SVD and streamed) and the output transform steps against closed forms."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from cosmoemu.emulator import Affine, ParamFactor, Pow10, fit_pca, fit_pca_streaming
from cosmoemu.emulator._transforms import decode_chain, encode_chain


@pytest.fixture(scope="module")
def low_rank():
    """Rank-5 data in 40 modes plus tiny noise of known size."""
    rng = np.random.default_rng(0)
    basis = np.linalg.qr(rng.normal(size=(40, 5)))[0].T  # 5 orthonormal rows
    coef = rng.normal(size=(300, 5)) * np.array([10.0, 5.0, 2.0, 1.0, 0.5])
    noise = 1e-6 * rng.normal(size=(300, 40))
    x = coef @ basis + noise
    return x - x.mean(axis=0), basis


def test_tolerance_picks_the_rank(low_rank):
    x, basis = low_rank
    fit = fit_pca(x, tol=1e-4)
    assert fit.pca.n_components == 5
    assert fit.max_error < 1e-4
    # the fitted subspace is the true one: projector difference ~ noise level
    p_true = basis.T @ basis
    p_fit = fit.pca.components.T @ fit.pca.components
    assert np.abs(p_fit - p_true).max() < 1e-5
    assert fit.explained_variance.sum() == pytest.approx(1.0, abs=1e-9)


def test_count_and_error_of_truncation(low_rank):
    x, _ = low_rank
    fit = fit_pca(x, n_components=3)
    resid = x - x @ fit.pca.components.T @ fit.pca.components
    assert fit.max_error == pytest.approx(np.abs(resid).max())
    assert fit.rms_error == pytest.approx(np.sqrt(np.mean(resid**2)))
    with pytest.raises(ValueError, match="exactly one"):
        fit_pca(x)


def test_streaming_equals_svd(low_rank):
    x, _ = low_rank
    svd = fit_pca(x, n_components=5)
    stream = fit_pca_streaming(lambda: np.array_split(x, 7), 40, n_components=5)
    p_svd = svd.pca.components.T @ svd.pca.components
    p_stream = stream.pca.components.T @ stream.pca.components
    np.testing.assert_allclose(p_stream, p_svd, atol=1e-8)
    assert stream.max_error == pytest.approx(svd.max_error, rel=1e-6)
    stream_tol = fit_pca_streaming(lambda: np.array_split(x, 3), 40, tol=1e-4)
    assert stream_tol.pca.n_components == 5


def test_param_factor_is_as_s_exp_minus_two_tau():
    names = ("tau_reio", "ln10^{10}A_s")
    f = ParamFactor.from_names(names, {"ln10^{10}A_s": 1.0, "tau_reio": -2.0}, None, np.log(1e-10))
    theta = np.array([[0.06, 3.05], [0.1, 2.9]])
    expected = np.exp(theta[:, 1]) * 1e-10 * np.exp(-2 * theta[:, 0])
    y = np.ones((2, 3))
    np.testing.assert_allclose(f.encode(y, theta), 1 / expected[:, None] * y, rtol=1e-12)
    got = np.asarray(f.decode(jnp.ones((2, 3)), jnp.asarray(theta)))
    np.testing.assert_allclose(got, np.repeat(expected[:, None], 3, 1), rtol=1e-6)
    with pytest.raises(ValueError, match="did you mean 'tau_reio'"):
        ParamFactor.from_names(names, {"tau": -2.0})


def test_chain_encode_decode_inverse():
    rng = np.random.default_rng(1)
    theta = rng.uniform(0.5, 2.0, size=(10, 2))
    y = rng.uniform(1.0, 5.0, size=(10, 6)) * theta[:, :1]
    factor = ParamFactor.from_names(("a", "b"), None, {"a": 1.0})
    z = factor.encode(y, theta)
    z = Pow10().encode(z, theta)
    std = Affine.standardise(z)
    chain = (std, Pow10(), factor)  # decode order
    enc = encode_chain(chain, y, theta)
    np.testing.assert_allclose(enc.mean(axis=0), 0.0, atol=1e-12)
    dec = np.asarray(decode_chain(chain, jnp.asarray(enc), jnp.asarray(theta)))
    np.testing.assert_allclose(dec, y, rtol=2e-6)


def test_log10_rejects_non_positive_outputs():
    with pytest.raises(ValueError, match="log10: false"):
        Pow10().encode(np.array([[1.0, -2.0]]), None)
