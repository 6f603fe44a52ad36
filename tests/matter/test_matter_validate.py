"""`validate_matter_power` and `cosmoemu validate pk:...` against injected, known errors.

The fake store holds the tiny model's own P(k, z) divided by (1 + eps) with a chosen eps at a
few (row, z, k), so the emulator's relative error there is exactly |eps| (to float32 storage)
and zero elsewhere: the reported metrics must be the percentiles of the injected maxima inside
k_range and z <= z_max, and the errors placed outside those ranges must not count.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from click.testing import CliRunner
from pk_tiny import NAMES, K, Z, sample, tiny_matter_power, write_store

from cosmoemu.cli import main
from cosmoemu.emulator import save_emulator
from cosmoemu.matter._validate import validate_matter_power

K_RANGE, Z_MAX = (1e-3, 5.0), 3.0
IN_K = np.flatnonzero((K >= K_RANGE[0]) & (K <= K_RANGE[1]))  # 12..55
IN_Z = np.flatnonzero(Z <= Z_MAX)  # 0..6 (z = 3 included)
ATOL = 2e-6  # float32 storage of the truth and float32 predictions
N_IN = 12  # rows 0..11 inside every box; row 12 outside the transfer's (h), 13 the boost's


def _inject(rng: np.random.Generator, mags: list[float]) -> np.ndarray:
    """eps (14, n_z, n_k): ``mags[i]`` at a random in-metric (z, k) of row i."""
    eps = np.zeros((N_IN + 2, Z.size, K.size))
    for i, m in enumerate(mags):
        eps[i, rng.choice(IN_Z), rng.choice(IN_K)] = m
    return eps


@pytest.fixture(scope="module")
def mp():
    return tiny_matter_power("lcdm")


@pytest.fixture(scope="module")
def case(mp, tmp_path_factory):
    x = sample(N_IN, seed=3)
    out_t, out_b = x[0].copy(), x[1].copy()
    out_t[NAMES.index("h")] = 0.85  # outside the transfer box: linear, non-linear, sigma8
    out_b[NAMES.index("c_min")] = 4.5  # outside the boost box only
    params = np.vstack([x, out_t, out_b])
    values = {n: params[:, i] for i, n in enumerate(NAMES)}
    rng = np.random.default_rng(7)
    lin = _inject(rng, [3e-3, -2.5e-3, 1e-3, 8e-4, -5e-4, 4e-4, 3e-4, 2e-4, -1e-4, 5e-5, 2e-5])
    lin[5, 6, IN_K[-1]] = 2.9e-3  # the metric's edges z = 3 and the last k <= 5 count
    lin[1, 0, 58] = 0.05  # k = 7.1 > 5
    lin[2, 7, 30] = -0.04  # z = 3.5 > 3
    lin[3, 2, 5] = 0.03  # k = 2.2e-4 < 1e-3
    lin[12, 0, 30] = 0.5  # outside the box: not compared
    nl = _inject(rng, [1e-3, 4e-4, -1.5e-3, 2e-4, 6e-4, 1e-4, 3e-4, -7e-4, 9e-4, 5e-4, 8e-5,
                       1.2e-3])
    nl[0, 8, 20] = 0.1  # z = 4
    nl[13, 3, 30] = 0.2  # outside the boost's box: linear compared, non-linear not
    s8 = np.array([1e-4, -3e-4, 2e-4, 4e-5, 0, 1e-5, 2.5e-4, -1.5e-4, 6e-5, 3e-5, 7e-5, 1e-4,
                   0.3, 2e-5])
    truth = {  # P_emu / truth - 1 = eps exactly
        "pk_lin": np.asarray(mp(values, K, Z, nonlinear=False, policy="clip"), float) / (1 + lin),
        "pk_nonlin": np.asarray(mp(values, K, Z, policy="clip"), float) / (1 + nl),
        "derived": np.stack([np.asarray(mp.sigma8(values, policy="clip"), float) / (1 + s8),
                             np.ones(len(params))], axis=1),
    }
    store = write_store(tmp_path_factory.mktemp("pk") / "pk_test",
                        params, **{q: v.astype(np.float32) for q, v in truth.items()})
    out = tmp_path_factory.mktemp("report")
    res = validate_matter_power(mp, store, out, k_range=K_RANGE, z_max=Z_MAX, timing=True)
    return {"lin": np.abs(lin), "nl": np.abs(nl), "s8": np.abs(s8), "store": store, "out": out,
            "res": res, "params": params}


def _metric(eps: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The injected maximum over the metric's (z, k) of each row."""
    return eps[rows][:, IN_Z][:, :, IN_K].reshape(len(rows), -1).max(axis=1)


def _expected(values: np.ndarray) -> dict[str, float]:
    return {**{f"p{p}": np.percentile(values, p) for p in (50, 68, 95, 99)},
            "max": values.max()}


def test_percentiles_are_those_of_the_injected_errors(case):
    res, s = case["res"], case["res"].summary
    lin_rows = np.r_[0:N_IN, 13]  # row 12 is outside the transfer's box
    np.testing.assert_array_equal(res.linear.rows, lin_rows)
    np.testing.assert_array_equal(res.nonlinear.rows, np.arange(N_IN))
    want_lin = _metric(case["lin"], lin_rows)
    assert want_lin.max() == 3e-3 and want_lin[5] == 2.9e-3
    np.testing.assert_allclose(res.linear.per_cosmology, want_lin, rtol=0, atol=ATOL)
    want_nl = _metric(case["nl"], np.arange(N_IN))
    np.testing.assert_allclose(res.nonlinear.per_cosmology, want_nl, rtol=0, atol=ATOL)
    for block, want in ((s["linear"], want_lin), (s["nonlinear"], want_nl)):
        got = block["percentiles"]
        assert set(got) == {"p50", "p68", "p95", "p99", "max"}
        for key, value in _expected(want).items():
            assert got[key] == pytest.approx(value, abs=ATOL), key
    assert s["linear"]["percentiles"]["max"] == pytest.approx(3e-3, abs=ATOL)
    assert s["linear"]["worst"]["row"] == 0 and s["nonlinear"]["worst"]["row"] == 2
    assert s["linear"]["worst"]["params"]["h"] == pytest.approx(case["params"][0, 2])
    s8_want = case["s8"][lin_rows]
    np.testing.assert_allclose(res.sigma8, s8_want, rtol=0, atol=ATOL)
    for key, value in _expected(s8_want).items():
        assert s["sigma8"]["percentiles"][key] == pytest.approx(value, abs=ATOL), key


def test_outside_box_rows_are_counted_not_compared(case):
    s = case["res"].summary
    assert (s["linear"]["n"], s["linear"]["n_outside_box"]) == (13, 1)
    assert (s["nonlinear"]["n"], s["nonlinear"]["n_outside_box"]) == (12, 2)
    assert (s["sigma8"]["n"], s["sigma8"]["n_outside_box"]) == (13, 1)
    assert all(s[w]["n_used_in_training"] == 0 and s[w]["n_nonfinite"] == 0
               for w in ("linear", "nonlinear", "sigma8"))
    text = (case["out"] / "pk_test.md").read_text()
    assert "- 1 cosmology outside the emulators' box for the linear P(k): not compared." in text
    assert "- 2 cosmologies outside the emulators' box for the non-linear P(k): not" in text
    assert "- Transfer emulator: whether these cosmologies were used in training is unchecked" \
        in text


def test_errors_outside_k_range_and_z_max_count_only_in_the_bands(case, mp, tmp_path):
    res = case["res"]
    # rows 1, 2, 3 carry 0.05, 0.04, 0.03 outside the metric: their metric is the in-range one
    np.testing.assert_allclose(res.linear.per_cosmology[1:4], [2.5e-3, 1e-3, 8e-4], atol=ATOL)
    assert res.nonlinear.per_cosmology[0] == pytest.approx(1e-3, abs=ATOL)  # not the 0.1 at z=4
    # the bands cover the whole grid: percentiles over the compared rows of the injected errors
    with np.load(res.bands) as b:
        np.testing.assert_array_equal(b["z"], Z)
        np.testing.assert_array_equal(b["k"], K)
        for p in (68, 95, 99):
            np.testing.assert_allclose(
                b[f"linear_p{p}"], np.percentile(case["lin"][res.linear.rows], p, axis=0),
                atol=ATOL)
            np.testing.assert_allclose(
                b[f"nonlinear_p{p}"], np.percentile(case["nl"][:N_IN], p, axis=0), atol=ATOL)
        assert b["linear_p99"][7, 30] > 0.03  # z = 3.5: in the band, not in the metric
    # the per-z table of the JSON: the largest band over k_range only
    per_z = res.summary["linear"]["per_z"]
    assert [r["in_metric"] for r in per_z] == [True] * 7 + [False] * 2
    band99 = np.percentile(case["lin"][res.linear.rows], 99, axis=0)
    for i, row in enumerate(per_z):
        assert row["p99"] == pytest.approx(band99[i, IN_K].max(), abs=ATOL)
    # widening the metric to the whole grid brings them in: the exclusion is the ranges'
    wide = validate_matter_power(mp, case["store"], tmp_path, k_range=(1e-4, 10.0), z_max=4.0,
                                 timing=False)
    np.testing.assert_allclose(wide.linear.per_cosmology[1:4], [0.05, 0.04, 0.03], atol=ATOL)
    assert wide.nonlinear.per_cosmology[0] == pytest.approx(0.1, abs=ATOL)


def test_targets_and_files(case):
    res, s, out = case["res"], case["res"].summary, case["out"]
    # lcdm targets on the 99th percentile: linear 0.1 % (p99 ~ 0.3 %: fails), non-linear 0.2 %
    # and sigma8 0.05 % (pass)
    assert (s["linear"]["target"], s["nonlinear"]["target"], s["sigma8"]["target"]) == (
        1e-3, 2e-3, 5e-4)
    assert (s["linear"]["pass"], s["nonlinear"]["pass"], s["sigma8"]["pass"]) == (
        False, True, True)
    assert {p.name for p in out.iterdir()} == {
        "pk_test.md", "pk_test.json", "pk_test_pk_lin.png", "pk_test_pk_nonlin.png",
        "pk_test_pk_bands.npz"}
    assert all(p.stat().st_size > 10_000 for p in res.plots)  # a real figure
    assert json.loads(res.json.read_text()) == json.loads(json.dumps(s))
    text = res.report.read_text()
    lin = re.search(r"\| linear P\(k\) \| 13 \| 1 \| (.*) \| < 0\.1 % \| \*\*FAIL\*\* \|", text)
    assert lin is not None, text
    pct = [float(v.removesuffix(" %")) / 100 for v in lin.group(1).split(" | ")]
    want = _expected(_metric(case["lin"], res.linear.rows))
    np.testing.assert_allclose(pct, [want[k] for k in ("p50", "p68", "p95", "p99", "max")],
                               rtol=5e-3)  # 3 significant digits
    assert re.search(r"\| non-linear P\(k\) \| 12 \| 2 \| .* \| < 0\.2 % \| \*\*pass\*\* \|",
                     text)
    assert re.search(r"\| σ8 \| 13 \| 1 \| .* \| < 0\.05 % \| \*\*pass\*\* \|", text)
    assert "| 3.5 (beyond z_max) |" in text and "![pk_test_pk_lin](pk_test_pk_lin.png)" in text
    t = s["timing"]
    assert t["linear"]["batch1_ms"] > 0 and t["nonlinear"]["batch1000_per_s"] > 0


def test_bad_input_is_a_clear_error(case, mp, tmp_path):
    with pytest.raises(ValueError, match=r"unknown P\(k\) model 'lcdm_typo'; available: lcdm"):
        validate_matter_power("lcdm_typo", case["store"], tmp_path, timing=False)
    x = sample(3, seed=1)
    no_pk = write_store(tmp_path / "cmb_only", x, derived=np.ones((3, 2)))
    with pytest.raises(ValueError, match=r"holds no pk_lin \(it has derived\)"):
        validate_matter_power(mp, no_pk, tmp_path, timing=False)
    with pytest.raises(ValueError, match=r"k_range must be"):
        validate_matter_power(mp, case["store"], tmp_path, k_range=(5.0, 1e-3), timing=False)
    with pytest.raises(ValueError, match=r"no store point in the metric's k 20\.\.50 /Mpc"):
        validate_matter_power(mp, case["store"], tmp_path, k_range=(20.0, 50.0), timing=False)


def test_store_without_a_boost_parameter_is_named(mp, tmp_path):
    x = sample(3, seed=2)
    pk = np.ones((3, Z.size, K.size), np.float32)
    store = write_store(tmp_path / "s", x[:, :6], names=NAMES[:6], pk_lin=pk, pk_nonlin=pk)
    with pytest.raises(ValueError, match=r"the lcdm non-linear P\(k\) takes eta_0, which .* "
                                         r"does not vary"):
        validate_matter_power(mp, store, tmp_path / "r", timing=False)


def test_cli(case, mp, tmp_path):
    save_emulator(mp.transfer, tmp_path / "transfer")
    save_emulator(mp.boost, tmp_path / "boost")
    spec = f"pk:lcdm={tmp_path / 'transfer'},{tmp_path / 'boost'}"
    out = CliRunner().invoke(main, ["validate", spec, str(case["store"]), "--out",
                                    str(tmp_path / "r"), "--label", "cli", "--no-timing",
                                    "--k-range", "1e-3", "5", "--z-max", "3"])
    assert out.exit_code == 0, out.output
    assert re.search(r"lcdm linear +n= +13 +relative error: median .*, max 0\.003 +target "
                     r"0\.001: FAIL", out.output), out.output
    got = json.loads((tmp_path / "r" / "cli.json").read_text())
    for w in ("linear", "nonlinear", "sigma8"):  # the saved models give the same figures
        for key, value in case["res"].summary[w]["percentiles"].items():
            assert got[w]["percentiles"][key] == pytest.approx(value, abs=ATOL)
    bad = CliRunner().invoke(main, ["validate", "pk:nosuch", str(case["store"]), "--out",
                                    str(tmp_path / "r2")])
    assert bad.exit_code != 0 and "unknown P(k) model 'nosuch'" in bad.output
    bad = CliRunner().invoke(main, ["validate", "lcdm_cmb_tt", str(case["store"]), "--z-max",
                                    "2"])
    assert bad.exit_code != 0 and "--k-range and --z-max apply to P(k) models only" in bad.output
