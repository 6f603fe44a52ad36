"""MatterPower on its own grid in float32 (the default dtype), as `cosmoemu validate` calls it."""

from __future__ import annotations

import numpy as np
import pytest
from pk_tiny import NAMES, TRANSFER, K, Z, sample, tiny_matter_power

from cosmoemu.matter import K_PIVOT


def test_own_grid_end_points_in_float32_give_the_emulators_values():
    """k = 1e-4 cast to float32 is 9.99999975e-05, below the grid's 1e-4: it was refused as
    outside the range. At the knots the spline returns the node values, so P is
    A_s (k/k_pivot)^(n_s - 1) times the transfer emulator's own prediction."""
    mp = tiny_matter_power()
    x = sample(2, seed=5)
    values = {n: x[:, i] for i, n in enumerate(NAMES)}
    pk = np.asarray(mp(values, K, Z, nonlinear=False))
    assert pk.dtype == np.float32 and pk.shape == (2, Z.size, K.size)
    t = mp.transfer.predict_numpy(x[:, [NAMES.index(p) for p in TRANSFER]])
    a_s = np.exp(values["ln10^{10}A_s"]) * 1e-10
    want = (a_s[:, None, None] * (K / K_PIVOT) ** (values["n_s"][:, None, None] - 1) * t)
    np.testing.assert_allclose(pk, want, rtol=2e-5)
    with pytest.raises(ValueError, match=r"k = 10\.01 /Mpc is outside the lcdm P\(k\) "
                                         r"emulators' range \[0\.0001, 10\] /Mpc"):
        mp(values, [1.0, 10.01], Z, nonlinear=False)
    with pytest.raises(ValueError, match=r"z = 4\.001 is outside"):
        mp(values, K, [4.001], nonlinear=False)
