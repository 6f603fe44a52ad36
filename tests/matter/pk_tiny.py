"""A tiny MatterPower (random-weight networks) on a small (z, k) grid, and a fake P(k) store."""

from __future__ import annotations

from pathlib import Path

import jax
import numpy as np

from cosmoemu.emulator import PCA, Affine, Axis, Pow10, init_mlp, make_emulator
from cosmoemu.matter import MatterPower

Z = np.linspace(0.0, 4.0, 9)  # 0, 0.5, ..., 4 (uniform, from 0, as MatterPower needs)
K = np.geomspace(1e-4, 10.0, 60)  # [1/Mpc], uniform in ln k
TRANSFER = ("omega_b", "omega_cdm", "h")
BOX = {"omega_b": (0.019, 0.026), "omega_cdm": (0.08, 0.17), "h": (0.6, 0.8),
       "n_s": (0.9, 1.02), "ln10^{10}A_s": (2.8, 3.2), "c_min": (2.0, 4.0), "eta_0": (0.5, 1.0)}
NAMES = tuple(BOX)


def _emulator(names: tuple[str, ...], seed: int, log10_mean: np.ndarray) -> object:
    """Network (n -> 8 -> 4) -> PCA (4 random orthonormal components) -> + mean -> 10**."""
    lo, hi = np.array([BOX[p] for p in names]).T
    net = init_mlp(jax.random.PRNGKey(seed), (len(names), 8, 4))
    comps = np.linalg.qr(np.random.default_rng(seed).normal(size=(Z.size * K.size, 4)))[0].T
    shift = np.broadcast_to(log10_mean, (Z.size, K.size)).reshape(-1)
    return make_emulator(net, Affine((lo + hi) / 2, (hi - lo) / 2),
                         [PCA(comps), Affine(shift, np.ones_like(shift)), Pow10()],
                         names, {p: BOX[p] for p in names}, None, "pca",
                         axes=[Axis("z", Z), Axis("k", K, "1/Mpc")])


def tiny_matter_power(name: str = "lcdm") -> MatterPower:
    """log10 T ~ 13 - 2 log10(1 + z) - log10(1 + (k/0.02)^2) plus the networks' wiggles; a
    boost of ~ +0.05 dex."""
    log10_t = 13.0 - 2 * np.log10(1 + Z)[:, None] - np.log10(1 + (K / 0.02) ** 2)[None, :]
    transfer = _emulator(TRANSFER, 0, log10_t)
    boost = _emulator(NAMES, 1, np.full(1, 0.05))
    return MatterPower(transfer, boost, name=name)


def sample(n: int, seed: int) -> np.ndarray:
    """``n`` points uniform in :data:`BOX`, ``(n, 7)`` in :data:`NAMES` order."""
    lo, hi = np.array(list(BOX.values())).T
    return lo + (hi - lo) * np.random.default_rng(seed).random((n, len(BOX)))


def write_store(path: Path, params: np.ndarray, names: tuple[str, ...] = NAMES,
                **arrays: np.ndarray) -> Path:
    """One chunk in the store layout (no manifest): params, names, z, k and ``arrays``."""
    path.mkdir(parents=True)
    extra = {"derived_names": np.array(["sigma8", "S8"])} if "derived" in arrays else {}
    np.savez(path / "chunk_00000.npz", params=params, names=np.array(names), z=Z, k=K,
             **extra, **arrays)
    return path
