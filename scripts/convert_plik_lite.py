"""Convert the Planck 2018 plik_lite text/Fortran files into the package's compact npz.

Usage::

    python scripts/convert_plik_lite.py /path/to/planck2018_plik_lite \
        src/cosmoemu/likelihoods/data/planck2018_plik_lite/plik_lite_v22.npz

Reads ``cl_cmb_plik_v22.dat`` (binned C_ell in μK², columns ell_eff, C_b, σ_b),
``c_matrix_plik_v22.dat`` (Fortran unformatted record: 613×613 float64, one triangle filled),
``blmin.dat``/``blmax.dat`` (per-bin offsets into ``bweight.dat``), ``bweight.dat`` (weights for
ell = 30..2508, TT then TE then EE) and ``low_ell/*`` (two commander TT bins, ell 2–15 and 16–29).
Writes every array losslessly (the covariance as its packed upper triangle, float64) and then
re-reads the npz and checks exact equality with the source files.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

N_TT, N_TE, N_EE = 215, 199, 199
PLMIN, PLMAX = 30, 2508


def read_fortran_matrix(path: Path, n: int) -> np.ndarray:
    """Read one Fortran unformatted record holding an n×n float64 matrix; return it symmetrised."""
    raw = path.read_bytes()
    head = np.frombuffer(raw[:4], dtype=np.int32)[0]
    tail = np.frombuffer(raw[-4:], dtype=np.int32)[0]
    if head != n * n * 8 or tail != head or len(raw) != head + 8:
        raise ValueError(f"{path}: not one Fortran record of {n}x{n} float64 (marker {head})")
    # Fortran writes column-major; read row-major it is the transpose. One triangle is filled.
    m = np.frombuffer(raw[4:-4], dtype="<f8").reshape(n, n).T
    if np.any(np.tril(m, -1)):
        raise ValueError(f"{path}: expected only the upper triangle to be filled")
    return m + m.T - np.diag(np.diag(m))


def read_source(src: Path) -> dict[str, np.ndarray]:
    """All arrays the likelihood needs, from the original files."""
    cl = np.loadtxt(src / "cl_cmb_plik_v22.dat")
    n = N_TT + N_TE + N_EE
    if cl.shape != (n, 3):
        raise ValueError(f"cl_cmb_plik_v22.dat: expected ({n}, 3), got {cl.shape}")
    low = src / "low_ell"
    low_cl = np.loadtxt(low / "CTT_bin_low_ell_2018.dat")
    return {
        "ell_eff": cl[:, 0],
        "cl_binned": cl[:, 1],
        "sigma_binned": cl[:, 2],
        "cov": read_fortran_matrix(src / "c_matrix_plik_v22.dat", n),
        "blmin": np.loadtxt(src / "blmin.dat").astype(np.int64),
        "blmax": np.loadtxt(src / "blmax.dat").astype(np.int64),
        "bweight": np.loadtxt(src / "bweight.dat"),
        "low_ell_eff": low_cl[:, 0],
        "low_cl_binned": low_cl[:, 1],
        "low_sigma_binned": low_cl[:, 2],
        "low_blmin": np.loadtxt(low / "blmin_low_ell.dat").astype(np.int64),
        "low_blmax": np.loadtxt(low / "blmax_low_ell.dat").astype(np.int64),
        "low_bweight": np.loadtxt(low / "bweight_low_ell.dat"),
        "low_plmin": np.atleast_1d(np.loadtxt(low / "plmin_low_ell.dat")).astype(np.int64),
    }


def pack(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    out = {k: v for k, v in arrays.items() if k != "cov"}
    iu = np.triu_indices(arrays["cov"].shape[0])
    out["cov_upper"] = arrays["cov"][iu]
    out["n_bins"] = np.array([N_TT, N_TE, N_EE], dtype=np.int64)
    out["plmin_plmax"] = np.array([PLMIN, PLMAX], dtype=np.int64)
    return out


def main(src: str, dst: str) -> None:
    arrays = read_source(Path(src))
    np.savez_compressed(dst, **pack(arrays))
    with np.load(dst, allow_pickle=False) as f:
        n = int(f["n_bins"].sum())
        cov = np.zeros((n, n))
        cov[np.triu_indices(n)] = f["cov_upper"]
        cov = cov + cov.T - np.diag(np.diag(cov))
        for key, value in arrays.items():
            got = cov if key == "cov" else f[key]
            if not np.array_equal(got, value):
                raise SystemExit(f"round trip mismatch in {key}")
    print(f"wrote {dst}: {Path(dst).stat().st_size / 1e6:.2f} MB, all arrays equal to the source")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    main(sys.argv[1], sys.argv[2])
