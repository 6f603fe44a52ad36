"""Runs with the closed-form toy backend: values, failures, timeouts, crashes, retry, workers.

The truth here is :func:`toy_outputs`, the toy backend's closed form, evaluated in the test
process; the store must hold exactly it (float64), or it rounded to float32.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from cosmoemu.data import Backend, generate, load_config, open_store, parse_config, toy_outputs
from cosmoemu.data._design import make_design


def _truth(cfg: dict, store) -> dict[str, np.ndarray]:
    """toy_outputs for every successful row of ``store``, stacked like ``store.load``."""
    checked = parse_config(cfg)
    params, _ = make_design(checked.box, checked.designs)
    rows = store.design_rows
    outs = [toy_outputs(dict(zip(checked.box.names, params[r], strict=True)), checked.request)
            for r in rows]
    truth = {"params": params[rows]}
    for i, q in enumerate(checked.request.cmb):
        truth[q] = np.stack([o["spectra"][i] for o in outs])
    for key in ("derived", "pk_lin", "pk_nonlin"):
        truth[key] = np.stack([o[key] for o in outs])
    return truth


def test_store_holds_the_closed_form_in_float64(toy_config):
    cfg = toy_config(dtype="float64")
    summary = generate(cfg, workers=2, progress=False)
    assert (summary.n_done, summary.n_failed, summary.n_missing) == (24, 0, 0)
    store = open_store(cfg["output"])
    assert store.quantities == ("tt", "te", "ee", "derived", "pk_lin", "pk_nonlin")
    np.testing.assert_array_equal(store.design_rows, np.arange(24))
    truth = _truth(cfg, store)
    for q in ("params", *store.quantities):
        got = store.params() if q == "params" else store.load(q)
        np.testing.assert_array_equal(got, truth[q], err_msg=q)


def test_float32_storage_costs_under_1e6_relative(toy_config):
    cfg = toy_config(dtype="float32", design=[{"kind": "sobol", "n": 8, "seed": 0}])
    generate(cfg, workers=1, progress=False)
    store = open_store(cfg["output"])
    truth = _truth(cfg, store)
    for q in ("tt", "te", "pk_nonlin"):
        rel = np.abs(store.load(q) / truth[q] - 1)
        assert rel.max() < 1e-6  # float32 rounding: <= 2^-24 = 6e-8
    np.testing.assert_array_equal(store.load("derived"), truth["derived"])  # kept float64


def test_failures_are_recorded_never_fatal(toy_config):
    cfg = toy_config(
        settings={"fail_above": {"a": 0.8}, "crash_above": {"c": 0.85}},
        design=[{"kind": "lhs", "n": 20, "seed": 7}],
    )
    summary = generate(cfg, workers=2, progress=False)
    checked = parse_config(cfg)
    params, _ = make_design(checked.box, checked.designs)
    crash = params[:, 2] > 0.85
    fail = (params[:, 0] > 0.8) & ~crash
    assert crash.any() and fail.any()
    assert summary.n_failed == summary.failed_now == int((crash | fail).sum())
    store = open_store(cfg["output"])
    failures = {f["row"]: f for f in store.failures()}
    assert set(failures) == set(np.flatnonzero(crash | fail))
    for row, f in failures.items():
        assert f["params"] == dict(zip(checked.box.names, params[row], strict=True))
        expected = "exit code 3" if crash[row] else "RuntimeError: toy failure"
        assert expected in f["error"], f["error"]
    # failed rows are never returned as data; the rest match the closed form
    np.testing.assert_array_equal(store.design_rows, np.flatnonzero(~(crash | fail)))
    np.testing.assert_allclose(store.load("tt"), _truth(cfg, store)["tt"], rtol=1e-6)
    assert (store.path / "failures.jsonl").read_text().count("\n") == summary.n_failed


def test_hung_backend_call_is_killed_and_recorded(toy_config):
    """A sample stuck for an hour is killed after `timeout`; the rest of its chunk still runs."""
    cfg = toy_config(settings={"hang_above": {"a": 0.75}}, timeout=1.0, chunk_size=8,
                     design=[{"kind": "lhs", "n": 8, "seed": 11}])
    summary = generate(cfg, workers=1, progress=False)
    params, _ = make_design(parse_config(cfg).box, parse_config(cfg).designs)
    hung = np.flatnonzero(params[:, 0] > 0.75)
    assert len(hung) >= 1 and hung.max() < 7  # a hung row with healthy rows after it
    assert summary.wall_seconds < 60
    store = open_store(cfg["output"])
    assert sorted(f["row"] for f in store.failures()) == list(hung)
    assert all("timed out after 1 s" in f["error"] for f in store.failures())
    assert len(store) == 8 - len(hung)


def test_retry_failed_recomputes_only_failed_rows(toy_config):
    cfg = toy_config(settings={"delay": 0.3}, timeout=0.1, chunk_size=4,
                     design=[{"kind": "lhs", "n": 4, "seed": 1}])
    first = generate(cfg, workers=1, progress=False)
    assert first.n_failed == 4
    cfg["timeout"] = 30  # not part of the run's identity: a looser limit for the retry
    assert generate(cfg, workers=1, progress=False).computed == 0  # failures are kept
    retry = generate(cfg, workers=1, retry_failed=True, progress=False)
    assert (retry.computed, retry.n_failed, retry.n_done) == (4, 0, 4)
    store = open_store(cfg["output"])
    assert store.failures() == []
    np.testing.assert_array_equal(store.load("ee"), _truth(cfg, store)["ee"].astype(np.float32))


def test_deleted_chunk_is_recomputed_and_others_kept(toy_config):
    cfg = toy_config()
    generate(cfg, workers=2, progress=False)
    root = open_store(cfg["output"]).path
    before = {p.name: p.stat().st_ino for p in root.glob("chunk_*.npz")}
    (root / "chunk_00010.npz").unlink()
    summary = generate(cfg, workers=2, progress=False)
    assert summary.computed == 5 and summary.n_done == 24
    after = {p.name: p.stat().st_ino for p in root.glob("chunk_*.npz")}
    assert {k: v for k, v in after.items() if k != "chunk_00010.npz"} == \
        {k: v for k, v in before.items() if k != "chunk_00010.npz"}


class EnvBackend(Backend):
    """Reports its process: OMP_NUM_THREADS and pid (a third-party backend by import path)."""

    name = "env"

    def compute(self, params):
        return {"derived": np.array([float(os.environ.get("OMP_NUM_THREADS", "-1")),
                                     float(os.getpid())])}


def test_plugin_backend_runs_in_single_thread_sandboxes_reused_per_worker(toy_config):
    cfg = toy_config(backend={"name": f"{__name__}:EnvBackend"}, quantities=["derived"],
                     derived=["sigma8", "S8"], design=[{"kind": "lhs", "n": 12, "seed": 0}],
                     chunk_size=2)
    cfg.pop("pk"), cfg.pop("cmb")
    generate(cfg, workers=2, progress=False)
    got = open_store(cfg["output"]).load("derived")
    assert np.all(got[:, 0] == 1.0)  # OMP_NUM_THREADS=1 in every Boltzmann process
    pids = set(got[:, 1].astype(int))
    assert os.getpid() not in pids and len(pids) <= 2  # one sandbox per worker, not per chunk


def _assert_same_store(path_a, path_b):
    a, b = open_store(path_a), open_store(path_b)
    assert len(a) == len(b) > 0
    for i, (ca, cb) in enumerate(zip(a.iter_chunks(), b.iter_chunks(), strict=True)):
        assert ca.keys() == cb.keys()
        for key in ca:
            np.testing.assert_array_equal(ca[key], cb[key], err_msg=f"chunk {i} {key}")


def test_dask_local_cluster_gives_the_local_result(toy_config):
    pytest.importorskip("distributed")
    local, dask = toy_config("local"), toy_config("dask")
    generate(local, kind="local", workers=2, progress=False)
    summary = generate(dask, kind="dask", workers=2, progress=False)
    assert summary.n_done == 24
    _assert_same_store(local["output"], dask["output"])


def test_any_executor_process_pool(toy_config):
    """A user's own executor: tasks are pickled to a process pool and give the same store."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    local, pool_cfg = toy_config("local", design=[{"kind": "sobol", "n": 8, "seed": 2}]), \
        toy_config("pool", design=[{"kind": "sobol", "n": 8, "seed": 2}])
    generate(local, workers=1, progress=False)
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        generate(pool_cfg, executor=pool, workers=1, progress=False)
    _assert_same_store(local["output"], pool_cfg["output"])


def test_quick_example_config_is_valid():
    """Smoke test: the quick example parses (running it needs CAMB for a minute)."""
    from pathlib import Path

    cfg = load_config(Path(__file__).parents[2] / "examples" / "generate_quick.yaml")
    assert cfg.n_samples == 32 and cfg.request.pk == ("pk_lin", "pk_nonlin")


class NanBackend(Backend):
    """Returns NaN for some cosmologies (as a Boltzmann code may, silently)."""

    name = "nan"

    def compute(self, params):
        return {"derived": np.array([np.nan if params["a"] > 0.5 else 1.0, 2.0])}


def test_non_finite_output_is_a_failure_not_data(toy_config):
    cfg = toy_config(backend={"name": f"{__name__}:NanBackend"}, quantities=["derived"],
                     derived=["sigma8", "S8"], design=[{"kind": "lhs", "n": 6, "seed": 0}])
    cfg.pop("pk"), cfg.pop("cmb")
    generate(cfg, workers=1, progress=False)
    store = open_store(cfg["output"])
    a = parse_config(cfg)
    params, _ = make_design(a.box, a.designs)
    assert [f["row"] for f in store.failures()] == list(np.flatnonzero(params[:, 0] > 0.5))
    assert all("non-finite values in derived" in f["error"] for f in store.failures())
    np.testing.assert_array_equal(store.load("derived"), [[1.0, 2.0]] * len(store))


def test_task_lost_on_its_worker_is_recorded_then_retried(toy_config):
    """A task that raises on its worker (a lost Dask worker) fails its rows, not the run."""
    from concurrent.futures import Future, ThreadPoolExecutor

    class LosesChunk5(ThreadPoolExecutor):
        def submit(self, fn, task):
            if task.start != 5:
                return super().submit(fn, task)
            future = Future()
            future.set_exception(OSError("worker lost"))
            return future

    cfg = toy_config(design=[{"kind": "lhs", "n": 12, "seed": 0}])
    with LosesChunk5(1) as pool:
        summary = generate(cfg, executor=pool, progress=False)
    assert (summary.n_done, summary.n_failed) == (7, 5)
    failures = open_store(cfg["output"]).failures()
    assert [f["row"] for f in failures] == [5, 6, 7, 8, 9]
    assert failures[0]["error"] == "task failed on its worker: OSError: worker lost"
    assert generate(cfg, retry_failed=True, workers=1, progress=False).n_done == 12
