"""Write ``examples/data/seismic_event.npz``, the observed traces of the seismic example.

One event of the ``seismic_hypocentre_v1`` scenario at the shared reference hypocentre
(x, y, depth) = (1.5, -2.5, 12.0) km, simulated with pyprop8 (:func:`cosmoemu.seismic.simulate`),
plus white Gaussian noise of the scenario's sigma (0.0222 mm) drawn with seed ``SEED``. Stored:
``traces`` (10, 3, 200) float32 mm, ``sigma`` mm, ``receivers`` km, ``times`` s and the truth
``hypocentre_km`` with ``noise_seed`` (for reference; the likelihood reads traces and sigma).

Run: ``OMP_NUM_THREADS=1 PYTHONPATH=src python scripts/make_seismic_example.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cosmoemu.seismic import load_scenario, simulate

SEED = 14
HYPOCENTRE = (1.5, -2.5, 12.0)  # km
OUT = Path(__file__).resolve().parents[1] / "examples" / "data" / "seismic_event.npz"


def main() -> None:
    sc = load_scenario()
    clean = simulate(HYPOCENTRE)
    noisy = clean + np.random.default_rng(SEED).normal(0.0, sc.sigma, clean.shape)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez(OUT, traces=noisy.astype(np.float32), sigma=np.float64(sc.sigma),
             receivers=sc.receivers, times=sc.times,
             hypocentre_km=np.array(HYPOCENTRE), noise_seed=np.int64(SEED))
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
