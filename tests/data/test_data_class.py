"""The CLASS backend (optional extra) against CAMB, same config but the backend name.

Tolerances are the known agreement of the two codes at default precision: lensed C_ell to a few
0.1 % (Lesgourgues & Tram 2011 report ~0.1 % with tuned precision), C_ell^phiphi to ~2 % where
the two HMcode implementations enter non-linear lensing, linear P(k) to ~0.1 %, sound horizons
to ~0.05 %. z_* differs by definition (CLASS: visibility peak; CAMB: optical depth 1).
"""

from __future__ import annotations

import numpy as np
import pytest

from cosmoemu.data import CambBackend, ClassBackend, Request, parse_config

pytest.importorskip("classy")

PLANCK = {"omega_b": 0.02237, "omega_cdm": 0.1200, "h": 0.6736, "tau_reio": 0.0544,
          "n_s": 0.9649, "ln10^{10}A_s": 3.044}
DERIVED = ("sigma8", "S8", "rdrag", "zdrag", "H0", "Omega_m", "age", "zstar", "thetastar")


@pytest.fixture(scope="module")
def both():
    req = Request(cmb=("tt", "te", "ee", "pp"), lmax=1000, derived=DERIVED,
                  pk=("pk_lin", "pk_nonlin"), k=tuple(np.geomspace(1e-3, 1.0, 12)), z=(0.0, 1.0))
    camb = CambBackend(req, CambBackend.default_settings, {}).compute(PLANCK)
    klass = ClassBackend(req, ClassBackend.default_settings, {}).compute(PLANCK)
    return req, camb, klass


def test_same_config_switches_backend():
    cfg = {"output": "x", "parameters": {k: [0.9 * v, 1.1 * v] for k, v in PLANCK.items()},
           "design": {"kind": "lhs", "n": 2}, "quantities": ["tt", "pk_nonlin", "derived"],
           "fixed": {"m_ncdm": 0.06, "N_eff": 3.046}}
    a = parse_config({**cfg, "backend": "camb"})
    b = parse_config({**cfg, "backend": "class"})
    assert a.request == b.request and a.box == b.box and b.target.endswith("ClassBackend")


@pytest.mark.slow  # one CLASS run to lmax 1500: ~15-35 s on the 2-core machine
def test_class_cmb_spectra_match_camb(both):
    req, camb, klass = both
    a, b = camb["spectra"], klass["spectra"]
    tt, te, ee, pp = range(4)
    for i in (tt, ee):
        assert np.max(np.abs(b[i] / a[i] - 1)) < 5e-3, req.cmb[i]
    # TE crosses zero: compare in units of sqrt(TT EE)
    assert np.max(np.abs(b[te] - a[te]) / np.sqrt(a[tt] * a[ee])) < 5e-3
    assert np.max(np.abs(b[pp] / a[pp] - 1)) < 2e-2


@pytest.mark.slow
def test_class_pk_and_derived_match_camb(both):
    _, camb, klass = both
    assert np.max(np.abs(klass["pk_lin"] / camb["pk_lin"] - 1)) < 2e-3
    assert np.max(np.abs(klass["pk_nonlin"] / camb["pk_nonlin"] - 1)) < 5e-3
    a = dict(zip(DERIVED, camb["derived"], strict=True))
    b = dict(zip(DERIVED, klass["derived"], strict=True))
    assert b["H0"] == pytest.approx(67.36, rel=1e-12)
    for name, rel in (("sigma8", 2e-3), ("S8", 2e-3), ("rdrag", 5e-4), ("zdrag", 5e-4),
                      ("Omega_m", 2e-4), ("age", 2e-4), ("thetastar", 5e-3), ("zstar", 1e-2)):
        assert b[name] == pytest.approx(a[name], rel=rel), name
