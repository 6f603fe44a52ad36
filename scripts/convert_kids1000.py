"""Convert the public KiDS-1000 cosmic-shear FITS files into the package's npz files.

Usage::

    python scripts/convert_kids1000.py /path/to/kids1000 src/cosmoemu/likelihoods/data/kids1000

Reads (needs ``astropy``, a one-off conversion dependency):

* ``cosebis_KIDS1000_BlindC_with_m_bias.fits``: ``En`` (BIN1, BIN2, ANGBIN = n, VALUE; 15 pairs
  × 20 modes), ``COVMAT`` (300 × 300, same order), ``NZ_SOURCE`` (5 SOM histograms,
  Z_LOW/Z_MID/Z_HIGH, with SIG_E_i and NGAL_i in the header);
* ``xipm_KIDS1000_BlindC_with_m_bias.fits``: ``xiP``, ``xiM`` (15 pairs × 9 θ bins, ANG in arcmin),
  ``COVMAT`` (270 × 270, ξ+ then ξ−);
* ``deltaz_mean.asc``, ``deltaz_cov_SOM_multiplied.asc``: the δz prior (mean, 5 × 5 covariance).

Writes ``kids1000_cosebis.npz``, ``kids1000_xipm.npz`` and ``kids1000_nz.npz`` losslessly
(float64; a symmetric covariance as its packed upper triangle, ``np.triu_indices``), then
re-reads them and checks exact equality with the source. The package reads the npz files only.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

N_BINS = 5


def _table(hdu) -> dict[str, np.ndarray]:
    return {name: np.asarray(hdu.data[name]) for name in hdu.columns.names}


def read_source(src: Path) -> dict[str, dict[str, np.ndarray]]:
    """Every array the likelihoods need, grouped by output file."""
    from astropy.io import fits

    out: dict[str, dict[str, np.ndarray]] = {}
    with fits.open(src / "cosebis_KIDS1000_BlindC_with_m_bias.fits") as h:
        en = _table(h["En"])
        out["cosebis"] = {
            "bin1": en["BIN1"].astype(np.int64), "bin2": en["BIN2"].astype(np.int64),
            "n": en["ANGBIN"].astype(np.int64), "value": en["VALUE"].astype(np.float64),
            "cov": np.asarray(h["COVMAT"].data, dtype=np.float64),
        }
        nz = _table(h["NZ_SOURCE"])
        head = h["NZ_SOURCE"].header
        out["nz"] = {
            "z_low": nz["Z_LOW"], "z_mid": nz["Z_MID"], "z_high": nz["Z_HIGH"],
            "nz": np.stack([nz[f"BIN{i}"] for i in range(1, N_BINS + 1)]),
            "sigma_e": np.array([head[f"SIG_E_{i}"] for i in range(1, N_BINS + 1)]),
            "n_gal": np.array([head[f"NGAL_{i}"] for i in range(1, N_BINS + 1)]),
            "dz_mean": np.loadtxt(src / "deltaz_mean.asc"),
            "dz_cov": np.loadtxt(src / "deltaz_cov_SOM_multiplied.asc"),
        }
    with fits.open(src / "xipm_KIDS1000_BlindC_with_m_bias.fits") as h:
        xp, xm = _table(h["xiP"]), _table(h["xiM"])
        for key in ("BIN1", "BIN2", "ANGBIN", "ANG"):
            if not np.array_equal(xp[key], xm[key]):
                raise ValueError(f"xiP and xiM differ in {key}")
        out["xipm"] = {
            "bin1": xp["BIN1"].astype(np.int64), "bin2": xp["BIN2"].astype(np.int64),
            "theta_bin": xp["ANGBIN"].astype(np.int64), "theta_arcmin": xp["ANG"],
            "xi_plus": xp["VALUE"], "xi_minus": xm["VALUE"],
            "cov": np.asarray(h["COVMAT"].data, dtype=np.float64),
        }
        nz2 = _table(h["NZ_SOURCE"])
        if not np.array_equal(np.stack([nz2[f"BIN{i}"] for i in range(1, 6)]), out["nz"]["nz"]):
            raise ValueError("the two files hold different n(z)")
    return out


def pack(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The arrays with a symmetric ``cov`` replaced by its packed upper triangle ``cov_upper``.

    A covariance that is not exactly symmetric (the ξ± one: |C − Cᵀ| up to 1.5e-12, 1.7 % of
    √(C_ii C_jj) in some element) is kept whole, as published; the likelihood symmetrises it.
    """
    arrays = dict(arrays)
    if "cov" in arrays and np.array_equal(arrays["cov"], arrays["cov"].T):
        cov = arrays.pop("cov")
        arrays["cov_upper"] = cov[np.triu_indices(len(cov))]
    return arrays


def unpack_cov(upper: np.ndarray) -> np.ndarray:
    """The symmetric matrix from its packed upper triangle."""
    n = int(round((np.sqrt(8 * upper.size + 1) - 1) / 2))
    cov = np.zeros((n, n))
    cov[np.triu_indices(n)] = upper
    return cov + cov.T - np.diag(np.diag(cov))


def main(src: str, dst: str) -> None:
    source = read_source(Path(src))
    Path(dst).mkdir(parents=True, exist_ok=True)
    for name, arrays in source.items():
        path = Path(dst) / f"kids1000_{name}.npz"
        np.savez_compressed(path, **pack(arrays))
        with np.load(path) as back:
            for key, value in arrays.items():
                packed = key == "cov" and "cov_upper" in back
                got = unpack_cov(back["cov_upper"]) if packed else back[key]
                if not np.array_equal(got, value):
                    raise ValueError(f"{path}: {key} not reproduced exactly")
        print(f"wrote {path} ({path.stat().st_size / 1e3:.0f} kB), checked exact")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
