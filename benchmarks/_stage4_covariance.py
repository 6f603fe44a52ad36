"""Laplace covariance of the 157-parameter Stage-IV 3x2pt posterior (a fixture, computed once).

``examples/stage4_3x2pt_157.yaml``: the mode of ln L + ln π and the inverse of −Hessian there,
**in the physical parameters**. Everything runs on ``Posterior.logpost`` (a log-density of the
physical ``x``), so the coordinates are the identity and no Jacobian enters. The expansion point
is the config's ``ref`` values (the noise-free mock's truth, where ``cosmoemu sample`` starts);
one Newton step from there gives the mode (its decrement is printed: ~1e-3, i.e. the reference
point is the mode to < 0.01σ). The Hessian is differences of 2d + 1 = 315 batched gradients (the
recipe of :func:`cosmoemu.inference._mode.find_mode`: steps of a tenth of the Laplace width,
found in two passes; a third pass at half the steps shows how well they converged), in float64
(JAX's x64 mode; ``--float32`` for the sampler's precision, ~1e-4 relative).

Why not ``find_mode`` itself: **ln p is discontinuous at the fiducial** in ``s2_dz_src_10`` (a
drop of 0.13 for any dz < 0) and ``s2_dz_lens_10`` (0.39). The LSST-like n(z) tables end at
z = 4 with n(4) > 0 in the last bins; the shifted n_i(z − dz) is zero outside the table
(``cosmology._limber._shifted_nz``), so for dz < 0 the integration grid's last node (z = 4)
falls outside it and its weight vanishes at once. Central differences across that step give
Hessian entries ∝ 1/h (an indefinite "Hessian", eigenvalues down to −1e10). This script scans
every parameter for such jumps (second differences at 1e-6 prior widths) and takes forward
differences (dz > 0, the branch continuous with the value at the fiducial) there.

Writes ``tests/evidence/fixtures/stage4_3x2pt_157_laplace.npz``:

- ``names`` ``(157,)`` str: the sampled parameters, in the posterior's order;
- ``mode`` ``(157,)`` float64: the mode (reference point plus one Newton step);
- ``cov`` ``(157, 157)`` float64: :math:`(-H)^{-1}` (symmetric, positive definite);
- ``jumps`` ``(157,)`` float64: the second differences of the jump scan;
- ``ln_post_mode`` (float): ln L + ln π at the mode (quadratic model); ``dtype`` (str).

The fixture feeds ``benchmarks/evidence_gaussian_157.py`` and
``tests/evidence/test_evidence_gaussian_highdim.py``. Run (about a minute here: building and
compiling the model, then four batches of 315 gradients):
``nice -n 10 python benchmarks/_stage4_covariance.py``; ``--describe`` prints the structure of
the existing fixture.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "examples" / "stage4_3x2pt_157.yaml"
FIXTURE = ROOT / "tests" / "evidence" / "fixtures" / "stage4_3x2pt_157_laplace.npz"


def _scan_jumps(logpost, x0: np.ndarray, widths: np.ndarray, dtype, batch: int) -> np.ndarray:
    """ln p(x0 + h e_i) + ln p(x0 − h e_i) − 2 ln p(x0) at h = 1e-6 prior widths, ``(d,)``:
    ~0 (O(h²)) where ln p is smooth, a finite jump where it is discontinuous at x0."""
    from cosmoemu.inference._mode import evaluate

    d = len(x0)
    h = 1e-6 * widths
    points = np.concatenate([x0[None], x0 + np.diag(h), x0 - np.diag(h)])
    values = np.asarray(evaluate(logpost, points, batch, dtype)[0], np.float64)
    return values[1 : d + 1] + values[d + 1 :] - 2 * values[0]


def _hessian(logpost, x: np.ndarray, h: np.ndarray, forward: np.ndarray, dtype, batch: int):
    """Value, gradient ``(d,)`` and Hessian ``(d, d)`` from 2d + 1 gradients at most: central
    differences (steps ``h``), forward ones (x, x + h) in the coordinates where ``forward``."""
    from cosmoemu.inference._mode import evaluate

    d = len(x)
    back = np.flatnonzero(~forward)
    points = np.concatenate([x[None], x + np.diag(h), (x - np.diag(h))[back]])
    values, grads = (np.asarray(a, np.float64) for a in evaluate(logpost, points, batch, dtype))
    plus = grads[1 : d + 1]
    minus = np.repeat(grads[:1], d, axis=0)
    minus[back] = grads[d + 1 :]
    span = np.where(forward, h, 2 * h)
    hess = (plus - minus).T / span
    return values[0], grads[0], 0.5 * (hess + hess.T)


def laplace(float32: bool = False) -> dict[str, np.ndarray]:
    """Mode ``(d,)``, covariance ``(d, d)``, names ``(d,)`` and the jumps found ``(d,)``.

    The log-posterior is discontinuous at the fiducial in some redshift shifts (see the module
    docstring): there the Hessian takes one-sided (forward, dz > 0) differences, i.e. it is that
    of the smooth branch dz >= 0, which is continuous with the value at the fiducial.
    """
    import jax

    if not float32:
        jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    from cosmoemu.inference import load_run_config

    t0 = time.perf_counter()
    run = load_run_config(CONFIG)
    post = run.posterior
    dtype = jnp.zeros(()).dtype
    d = post.ndim
    batch = 2 * d + 1
    names = np.array(post.sampled)
    x0 = post.reference_point()
    for name, value in run.reference.items():
        x0[post.sampled.index(name)] = value
    widths = np.array([p.width for p in post.priors])
    print(f"built the posterior ({d} parameters, {dtype}) in {time.perf_counter() - t0:.1f} s")

    t0 = time.perf_counter()
    jumps = _scan_jumps(post.logpost, x0, widths, dtype, batch)
    forward = np.abs(jumps) > 1e-3
    print(f"jump scan ({time.perf_counter() - t0:.1f} s, compilation included): ln p is "
          f"discontinuous at the reference point in {int(forward.sum())} parameters: " + ", ".join(
              f"{names[i]} ({jumps[i]:+.3f})" for i in np.flatnonzero(forward)))

    # steps: a hundredth of the prior width, then a tenth of the Laplace width (find_mode's rule)
    h = 0.01 * widths
    for _ in range(2):
        value, grad, hess = _hessian(post.logpost, x0, h, forward, dtype, batch)
        sigma = 1.0 / np.sqrt(np.clip(np.diag(-hess), 1e-300, None))
        h = 0.1 * sigma
    # and half those steps, to show the differences have converged
    _, _, hess_half = _hessian(post.logpost, x0, 0.5 * h, forward, dtype, batch)
    scale = np.sqrt(np.outer(np.diag(-hess), np.diag(-hess)))
    rel = np.abs(hess - hess_half) / scale
    i, j = np.unravel_index(np.argmax(rel), rel.shape)
    print(f"Hessian with steps of 0.1 sigma vs 0.05 sigma: max |dH_ij| / sqrt(H_ii H_jj) = "
          f"{rel[i, j]:.2e} ({names[i]}, {names[j]}); median {np.median(rel):.1e}")
    neg_h = -hess
    lam = np.linalg.eigvalsh(neg_h / scale)
    if lam.min() <= 0:
        raise SystemExit(f"-H is not positive definite: smallest eigenvalues {lam[:5]}")
    chol = np.linalg.cholesky(neg_h)
    inv_chol = np.linalg.solve(chol, np.eye(d))
    cov = inv_chol.T @ inv_chol
    cov = 0.5 * (cov + cov.T)
    # the reference point is the mode of the smooth branch up to one Newton step
    step = cov @ grad
    decrement = float(grad @ step)
    sig = np.sqrt(np.diag(cov))
    print(f"at the reference point: ln p = {value:.4f}; Newton decrement g^T (-H)^-1 g = "
          f"{decrement:.2e}; Newton step max |dx_i| / sigma_i = {np.max(np.abs(step) / sig):.3f} "
          f"({names[int(np.argmax(np.abs(step) / sig))]})")
    mode = x0 + step
    print(f"{time.perf_counter() - t0:.1f} s for the jump scan and four Hessians")
    return {"names": names, "mode": mode, "cov": cov, "ln_post_mode": float(value + 0.5 *
            decrement), "dtype": str(dtype), "jumps": jumps}


def describe(names: np.ndarray, cov: np.ndarray) -> None:
    """Print positive-definiteness, condition numbers and the correlation structure."""
    lam = np.linalg.eigvalsh(cov)
    sigma = np.sqrt(np.diag(cov))
    corr = cov / np.outer(sigma, sigma)
    lam_c = np.linalg.eigvalsh(corr)
    print(f"covariance: eigenvalues in [{lam.min():.3e}, {lam.max():.3e}], condition number "
          f"{lam.max() / lam.min():.3e}; positive definite: {bool(lam.min() > 0)}")
    print(f"correlation matrix: eigenvalues in [{lam_c.min():.3e}, {lam_c.max():.3e}], "
          f"condition number {lam_c.max() / lam_c.min():.3e}")
    off = np.abs(corr[np.triu_indices_from(corr, 1)])
    print(f"|correlation| off the diagonal: median {np.median(off):.3f}, "
          f"fraction > 0.5: {np.mean(off > 0.5):.4f}, > 0.9: {np.mean(off > 0.9):.4f}, "
          f"max {off.max():.4f}")
    groups: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        stem = str(name).rsplit("_", 1)[0] if str(name)[:2] in ("s1", "s2", "s3") else "cosmo"
        groups.setdefault(stem, []).append(i)
    print(f"{'group':<14}{'n':>3}{'sigma min':>11}{'sigma max':>11}"
          f"{'max|r| within':>15}{'max|r| to others':>18}")
    for stem, idx in groups.items():
        inside = np.abs(corr[np.ix_(idx, idx)] - np.eye(len(idx)))
        others = [j for j in range(len(names)) if j not in idx]
        outside = np.abs(corr[np.ix_(idx, others)])
        print(f"{stem:<14}{len(idx):>3}{sigma[idx].min():>11.3e}{sigma[idx].max():>11.3e}"
              f"{inside.max():>15.3f}{outside.max():>18.3f}")
    iu = np.triu_indices_from(corr, 1)
    top = np.argsort(-np.abs(corr[iu]))[:8]
    print("largest correlations: " + ", ".join(
        f"{names[iu[0][k]]}-{names[iu[1][k]]} {corr[iu[0][k], iu[1][k]]:+.3f}" for k in top))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--float32", action="store_true", help="the sampler's float type")
    ap.add_argument("--out", type=Path, default=FIXTURE)
    ap.add_argument("--describe", action="store_true",
                    help="only describe the existing fixture (no model run)")
    args = ap.parse_args()
    if not args.describe:
        result = laplace(args.float32)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(args.out, **result)
        print(f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} kB)")
    data = np.load(args.out)
    describe(data["names"], data["cov"])


if __name__ == "__main__":
    main()
