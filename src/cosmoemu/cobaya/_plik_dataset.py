"""Our shipped plik_lite data in the layout of Cobaya's native plik_lite likelihoods.

Cobaya's ``planck_2018_highl_plik.TTTEEE_lite_native`` (and ``TT_lite_native``) read a CosmoMC
``.dataset`` file and the text/binary files it names, which ``cobaya-install`` normally downloads
into ``PACKAGES_PATH/data/planck_2018_pliklite_native``. :func:`write_plik_lite_dataset` writes
them there from cosmoemu's shipped npz, so Cobaya's own implementation runs on the same numbers
as ours, offline::

    packages_path: DIR          # as given to write_plik_lite_dataset(DIR)
    likelihood:
      planck_2018_highl_plik.TTTEEE_lite_native:

(Cobaya checks the install under ``packages_path`` whatever the likelihood's ``path`` says, so
the files go in that layout, with the ``version.dat`` a download leaves.)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.io import FortranFile

from ..likelihoods import PlikLiteData, load_plik_lite_data

__all__ = ["write_plik_lite_dataset", "DATASET_FILE"]

DATASET_FILE = "plik_lite_v22.dataset"
"""The file name Cobaya's native plik_lite likelihoods look for under their ``path``."""


def write_plik_lite_dataset(packages_path: str | Path, data: PlikLiteData | None = None) -> Path:
    """Install the shipped plik_lite data for Cobaya's native plik_lite likelihoods.

    Writes ``plik_lite_v22.dataset`` and its files into the folder where ``cobaya-install``
    puts them under ``packages_path`` (``data/planck_2018_pliklite_native``), with a
    ``version.dat``.

    Files: ``cl_cmb_plik_v22.dat`` (bin centre, binned C_ℓ [μK²], σ; 613 rows TT, TE, EE),
    ``c_matrix_plik_v22.bin`` (the 613×613 covariance [μK⁴], one Fortran unformatted record,
    exact float64), ``blmin.dat``/``blmax.dat`` (bin edges, ℓ − 30, shared by TT/TE/EE) and
    ``bweight.dat`` (weights on C_ℓ for ℓ = 30..2508).

    Args:
        packages_path: a Cobaya packages path (created if missing); give it as
            ``packages_path`` in the Cobaya input.
        data: the arrays (default the shipped plik_lite v22 data).

    Returns:
        The folder holding the ``.dataset`` file (also valid as the likelihood's ``path``).

    Raises:
        ValueError: TE/EE bins that are not the first TT bins (Cobaya's format shares them).
    """
    from cobaya.likelihoods.base_classes import PlanckPlikLite

    data = load_plik_lite_data() if data is None else data
    out = Path(PlanckPlikLite.get_path(str(Path(packages_path).resolve())))
    out.mkdir(parents=True, exist_ok=True)
    tt_ranges, tt_weights = data.ell_ranges[0], data.weights[0]
    for s, name in ((1, "TE"), (2, "EE")):
        n = data.n_bins[s]
        same = np.array_equal(data.ell_ranges[s], tt_ranges[:n]) and all(
            np.array_equal(a, b) for a, b in zip(data.weights[s], tt_weights[:n], strict=True))
        if not same:
            raise ValueError(f"{name} bins differ from the TT bins; Cobaya's plik_lite format "
                             "has one set of bins")
    lo, hi = tt_ranges[:, 0], tt_ranges[:, 1]
    if lo[0] != data.plmin or np.any(lo[1:] != hi[:-1] + 1):
        raise ValueError("plik_lite bins must tile ell from plmin without gaps")
    sigma = np.sqrt(np.diag(data.cov))
    centres = np.concatenate([(r[:, 0] + r[:, 1]) / 2 for r in data.ell_ranges])
    np.savetxt(out / "cl_cmb_plik_v22.dat", np.column_stack([centres, data.cl_binned, sigma]),
               fmt="%.17g")
    with FortranFile(out / "c_matrix_plik_v22.bin", "w") as f:
        f.write_record(np.ascontiguousarray(data.cov, dtype=np.float64))
    np.savetxt(out / "blmin.dat", lo - data.plmin, fmt="%d")
    np.savetxt(out / "blmax.dat", hi - data.plmin, fmt="%d")
    np.savetxt(out / "bweight.dat", np.concatenate(tt_weights), fmt="%.17g")
    n_tt, n_te, n_ee = data.n_bins
    (out / DATASET_FILE).write_text(
        "# Planck 2018 plik_lite v22, written by cosmoemu.cobaya.write_plik_lite_dataset\n"
        "use_cl = tt te ee\n"
        f"nbintt = {n_tt}\nnbinte = {n_te}\nnbinee = {n_ee}\n"
        f"lmax = {int(hi[-1])}\n"
        f"bin_lmin_offset = {data.plmin}\n"
        "data = cl_cmb_plik_v22.dat\n"
        "cov_file_binary = c_matrix_plik_v22.bin\n"
        "blmin = blmin.dat\nblmax = blmax.dat\nweights = bweight.dat\n"
        "calibration_param = A_planck\n"
    )
    release = PlanckPlikLite.get_install_options().get("github_release", "v1")
    (out / "version.dat").write_text(f"{release}\n")
    return out
