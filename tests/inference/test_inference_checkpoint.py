"""Resumable NUTS runs (checkpoints) and chains split over devices.

A run killed after any block and started again gives, bit for bit, the draws of an
uninterrupted run; a checkpoint of another run is refused with the reason; ``cosmoemu sample``
resumes by itself. The chain-sharded run (two forced CPU devices, in a subprocess: the device
count is fixed when JAX starts) is checked against the one-device run.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import yaml
from click.testing import CliRunner

import cosmoemu
from cosmoemu.cli import main
from cosmoemu.inference import Checkpoint, CheckpointMismatch, NUTSConfig, _driver

D = 4
COV = np.array([[1.0, 0.5, 0.1, 0.0], [0.5, 2.0, -0.3, 0.2], [0.1, -0.3, 0.5, 0.0],
                [0.0, 0.2, 0.0, 0.8]])


class Gaussian(eqx.Module):
    """Correlated Gaussian log-density of ``u`` ``(D,)`` around 0.5."""

    precision: jax.Array

    def __call__(self, u: jax.Array) -> jax.Array:
        r = u - 0.5
        return -0.5 * r @ self.precision.astype(u.dtype) @ r


LOGDENSITY = Gaussian(jnp.asarray(np.linalg.inv(COV), jnp.float32))
SEED = 3
# 3 warmup blocks (the metric re-estimated after the first two), then 5 sampling blocks; the
# targets are out of reach, so every run goes to max_draws
CFG = NUTSConfig(num_chains=4, num_warmup=30, block_size=10, max_draws=50, min_draws=50,
                 target_ess=1e9, adapt_metric=True)
N_BLOCKS = 8
FIELDS = ("positions", "logdensity", "divergent", "acceptance", "num_steps", "step_size",
          "inverse_mass_matrix", "mode", "warmup_divergences", "converged", "stop_reason")


class Killed(Exception):
    """Stands for a kill right after a checkpoint was written."""


def kill_after(monkeypatch, blocks: int) -> None:
    """Make the next runs die right after writing the checkpoint of ``blocks`` blocks."""
    save = Checkpoint.save

    def dying_save(self, identity, meta, arrays):
        size = save(self, identity, meta, arrays)
        if meta["blocks_done"] == blocks:
            raise Killed(blocks)
        return size

    monkeypatch.setattr(Checkpoint, "save", dying_save)


def run(block, checkpoint=None, *, key=SEED, position=None, cfg=CFG):
    position = jnp.zeros(D) if position is None else position
    return _driver.sample_nuts(LOGDENSITY, jax.random.key(key), position, cfg, progress=False,
                               block=block, checkpoint=checkpoint)


@pytest.fixture(scope="module")
def block():
    """The compiled NUTS block, shared by every run here (one compilation)."""
    return _driver.compile_block_ahead(LOGDENSITY, jax.random.key(0), D, np.float32, CFG)


@pytest.fixture(scope="module")
def reference(block):
    """The uninterrupted run, without a checkpoint."""
    return run(block)


def assert_same_run(res, ref) -> None:
    for name in FIELDS:
        np.testing.assert_array_equal(getattr(res, name), getattr(ref, name), err_msg=name)
    jax.tree.map(np.testing.assert_array_equal, res.state, ref.state)


@pytest.mark.parametrize("killed_at", [0, 1, 3, 5])
def test_resumed_run_gives_the_uninterrupted_draws_bitwise(killed_at, block, reference,
                                                           tmp_path, monkeypatch):
    """Killed after the mode search (0), mid-warmup after a metric update (1), at the end of the
    warmup (3), mid-sampling (5): the resumed run skips the mode search and equals the
    uninterrupted one bit for bit (draws, statistics, metric, step sizes, final state)."""
    stem = tmp_path / "run.checkpoint"
    with monkeypatch.context() as m:
        kill_after(m, killed_at)
        with pytest.raises(Killed):
            run(block, stem)
    meta = json.loads((tmp_path / "run.checkpoint.json").read_text())
    assert meta["blocks_done"] == killed_at
    assert meta["phase"] == ("warmup" if killed_at < 3 else "sampling")
    assert meta["draws_per_chain"] == max(killed_at - 3, 0) * CFG.block_size
    with np.load(tmp_path / "run.checkpoint.npz", allow_pickle=False) as f:
        assert json.loads(str(f["meta"]))["blocks_done"] == killed_at
        assert f["state/position"].shape == (4, D)
        assert ("warmup_draws" in f.files) == (killed_at in (1, 2))  # adapt_metric's, dropped after

    def no_mode_search(*args, **kwargs):
        raise AssertionError("the mode search ran again")

    monkeypatch.setattr(_driver, "_laplace_starts", no_mode_search)
    res = run(block, stem)
    assert res.resumed_from == killed_at
    assert_same_run(res, reference)
    assert reference.resumed_from is None


def test_finished_run_is_returned_from_its_checkpoint(block, reference, tmp_path):
    stem = tmp_path / "done"
    first = run(block, stem)
    assert_same_run(first, reference)
    meta = json.loads((tmp_path / "done.json").read_text())
    assert meta["phase"] == "finished" and meta["blocks_done"] == N_BLOCKS
    assert meta["stop_reason"] == reference.stop_reason
    assert meta["timings_s"]["checkpoint"] > 0

    class NoBlock:  # nothing may be sampled: no compiled block at all
        mesh = None

        def get(self):
            return None

    again = run(NoBlock(), stem)
    assert again.resumed_from == N_BLOCKS
    assert_same_run(again, reference)


def test_a_kill_while_writing_leaves_the_last_checkpoint_whole(block, reference, tmp_path,
                                                              monkeypatch):
    """Dying inside the write of block 2's checkpoint (after half the bytes) keeps block 1's,
    which resumes to the uninterrupted run."""
    stem = tmp_path / "ck"
    savez = np.savez

    def dying_savez(file, **arrays):
        if json.loads(str(arrays["meta"]))["blocks_done"] == 2:
            file.write(b"PK\x03\x04 half a zip")
            raise Killed(2)
        savez(file, **arrays)

    with monkeypatch.context() as m:
        m.setattr(np, "savez", dying_savez)
        with pytest.raises(Killed):
            run(block, stem)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck.json", "ck.npz"]  # no temp file
    assert json.loads((tmp_path / "ck.json").read_text())["blocks_done"] == 1
    (tmp_path / ".ck.npz.123.dead.tmp").write_bytes(b"left by a kill -9")  # ignored
    res = run(block, stem)
    assert res.resumed_from == 1
    assert_same_run(res, reference)


def test_a_checkpoint_of_another_run_is_refused(block, tmp_path, monkeypatch):
    stem = tmp_path / "ck"
    with monkeypatch.context() as m:
        kill_after(m, 1)
        with pytest.raises(Killed):
            run(block, stem)
    before = (tmp_path / "ck.npz").read_bytes()
    cases = [
        ({"key": SEED + 1}, "seed"),
        ({"cfg": dataclasses.replace(CFG, max_draws=60)},
         "NUTS setting max_draws: 50 in the checkpoint, 60 now"),
        ({"position": jnp.zeros(D + 1)}, "number of parameters: 4 in the checkpoint, 5 now"),
        ({"position": jnp.ones(D)}, "position_sha256"),  # a bare path: the start is identity
    ]
    for kwargs, why in cases:
        # refused before any work: no block is compiled or run
        with pytest.raises(CheckpointMismatch) as err:
            _driver.sample_nuts(LOGDENSITY, jax.random.key(kwargs.get("key", SEED)),
                                kwargs.get("position", jnp.zeros(D)), kwargs.get("cfg", CFG),
                                progress=False, checkpoint=stem)
        text = str(err.value)
        assert why in text, text
        assert str(tmp_path / "ck.npz") in text and "Delete it" in text and "--restart" in text
    assert (tmp_path / "ck.npz").read_bytes() == before  # untouched
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(CheckpointMismatch, match="cannot be read"):
        run(block, tmp_path / "bad")
    # restart: the old file is dropped and the run starts afresh
    res = run(block, Checkpoint(stem, restart=True))
    assert res.resumed_from is None


# --------------------------------------------------------------------------- the command line
GAUSS_CONFIG = {
    "likelihood": {"g": {"type": "gaussian", "params": ["a", "b"], "mean": [0.3, 0.7],
                         "cov": [[0.01, 0.001], [0.001, 0.0004]]}},
    "params": {"a": {"prior": {"min": -1.0, "max": 1.5}},
               "b": {"prior": {"dist": "norm", "loc": 0.7, "scale": 0.1}}},
    "sampler": {"nuts": {"chains": 4, "seed": 7, "warmup": 20, "block_size": 10,
                         "max_draws": 30, "min_draws": 30, "target_ess": 1e9}},
}


def test_sample_posterior_refuses_a_checkpoint_of_other_data(tmp_path, monkeypatch):
    """The posterior's arrays are part of the identity: the same names and settings with other
    data (here the likelihood's mean) are another run."""
    from cosmoemu.inference import load_run_config, sample_posterior

    run_a = load_run_config(GAUSS_CONFIG)
    other = {**GAUSS_CONFIG, "likelihood": {"g": {**GAUSS_CONFIG["likelihood"]["g"],
                                                  "mean": [0.3, 0.71]}}}
    run_b = load_run_config(other)
    with monkeypatch.context() as m:
        kill_after(m, 0)
        with pytest.raises(Killed):
            sample_posterior(run_a.posterior, jax.random.key(7), run_a.nuts, progress=False,
                             checkpoint=tmp_path / "ck")
    with np.load(tmp_path / "ck.npz", allow_pickle=False) as f:  # the adapted soft walls
        assert f["extra/softness"].shape == (2,)
    with pytest.raises(CheckpointMismatch, match=r"posterior\.arrays_sha256"):
        sample_posterior(run_b.posterior, jax.random.key(7), run_b.nuts, progress=False,
                         checkpoint=tmp_path / "ck")


def test_cli_sample_resumes_a_killed_run(tmp_path, monkeypatch):
    """`cosmoemu sample` checkpoints by default, resumes (saying from which block), gives the
    chains of an uninterrupted run byte for byte, deletes the checkpoint once the chains are
    written, refuses another seed's checkpoint and starts afresh with --restart."""
    config = tmp_path / "g.yaml"
    config.write_text(yaml.safe_dump(GAUSS_CONFIG, sort_keys=False))

    def sample(root, *extra):
        return CliRunner().invoke(main, ["sample", str(config), "--output", str(root),
                                         "--no-cache", "--no-progress", "--no-plot", *extra])

    whole = sample(tmp_path / "whole" / "g")
    assert whole.exit_code == 0, whole.output
    assert "resuming" not in whole.output
    assert sorted(p.name for p in (tmp_path / "whole").iterdir()) == [
        "g.1.txt", "g.2.txt", "g.3.txt", "g.4.txt", "g.input.yaml", "g.paramnames",
        "g.summary.txt"]  # the checkpoint is gone

    root = tmp_path / "cut" / "g"
    with monkeypatch.context() as m:
        kill_after(m, 3)
        cut = sample(root)
    assert isinstance(cut.exception, Killed)
    assert not (tmp_path / "cut" / "g.1.txt").exists()
    assert json.loads((tmp_path / "cut" / "g.checkpoint.json").read_text())["blocks_done"] == 3

    other = sample(root, "--seed", "8")
    assert other.exit_code != 0
    assert "different run" in other.output and "seed" in other.output
    assert "--restart" in other.output

    resumed = sample(root)
    assert resumed.exit_code == 0, resumed.output
    assert "resuming from checkpoint" in resumed.output and "next block 3" in resumed.output
    assert "resumed from a checkpoint at block 3" in resumed.output
    assert not (tmp_path / "cut" / "g.checkpoint.npz").exists()
    assert not (tmp_path / "cut" / "g.checkpoint.json").exists()
    for c in range(1, 5):
        assert ((tmp_path / "cut" / f"g.{c}.txt").read_bytes()
                == (tmp_path / "whole" / f"g.{c}.txt").read_bytes())

    with monkeypatch.context() as m:  # a checkpoint to restart over
        kill_after(m, 1)
        assert isinstance(sample(root).exception, Killed)
        kill_after(m, 0)
        restarted = sample(root, "--restart")
    assert isinstance(restarted.exception, Killed) and "resuming" not in restarted.output
    assert json.loads((tmp_path / "cut" / "g.checkpoint.json").read_text())["blocks_done"] == 0


# --------------------------------------------------------------------------- devices
SHARDED = textwrap.dedent("""
    import json, sys
    import jax, jax.numpy as jnp, numpy as np
    from jax.sharding import NamedSharding, PartitionSpec
    sys.path.insert(0, sys.argv[2])
    import test_inference_checkpoint as t
    from cosmoemu.inference import nuts

    from cosmoemu.inference import _driver

    assert len(jax.devices()) == 2, jax.devices()
    assert nuts.chain_mesh(3) is None  # 3 chains: one device (a warning)
    block = _driver.compile_block_ahead(t.LOGDENSITY, jax.random.key(0), t.D, np.float32, t.CFG)
    assert block.mesh.size == 2
    with t.pytest.MonkeyPatch.context() as m:  # a checkpoint of a 2-device run, killed
        t.kill_after(m, 5)
        try:
            t.run(block, sys.argv[1] + "/two.checkpoint")
        except t.Killed:
            pass
    res = t.run(block)
    pos = res.state.position
    shards = sorted((s.device.id, s.data.shape) for s in pos.addressable_shards)
    np.savez(sys.argv[1] + "/two.npz", positions=res.positions, logdensity=res.logdensity)
    print(json.dumps({"devices": res.num_devices, "named": isinstance(pos.sharding, NamedSharding),
                      "chain_spec": pos.sharding.spec == PartitionSpec("chains"),
                      "shards": shards}))
""")


def test_chains_sharded_over_two_devices_agree_with_one(block, reference, tmp_path):
    """With two (forced CPU) devices the state is split two chains per device and the draws
    equal the one-device run's; a checkpoint written on two devices resumes on one."""
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
           "JAX_PLATFORMS": "cpu",
           "PYTHONPATH": os.pathsep.join([str(Path(cosmoemu.__file__).parents[1]),
                                          os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run(
        [sys.executable, "-c", SHARDED, str(tmp_path), str(Path(__file__).parent)],
        env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    info = json.loads(out.stdout.strip().splitlines()[-1])
    assert info == {"devices": 2, "named": True, "chain_spec": True,
                    "shards": [[0, [2, D]], [1, [2, D]]]}
    two = np.load(tmp_path / "two.npz")
    # Bitwise on the machine this was written on (XLA:CPU, jax 0.10) for this 4-D target and a
    # 37-D one; for 3-D and 8-D targets the per-device batch of 2 chains (instead of 4) changes
    # XLA's vectorised code, the first transitions differ in the last bit and the chains then
    # drift apart (5e-3 after 80 transitions): same distribution, not the same numbers.
    np.testing.assert_allclose(two["positions"], reference.positions, rtol=0, atol=1e-3)
    np.testing.assert_allclose(two["logdensity"], reference.logdensity, rtol=0, atol=1e-3)
    # the two-device checkpoint resumes on one device
    res = run(block, tmp_path / "two.checkpoint")
    assert res.resumed_from == 5 and res.num_devices == 1
    np.testing.assert_allclose(res.positions, reference.positions, rtol=0, atol=1e-3)
