"""Training mechanics: seeds, resumption, weighted loss, divergence and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from emu_analytic import BOX, NAMES, X_GRID, damped, sample_box

from cosmoemu.emulator import (
    EmulatorSpec,
    PhaseSpec,
    Stage,
    TrainingError,
    TrainSpec,
    train_emulator,
)

STAGES = (Stage(3e-3, 32, 6, 50), Stage(1e-3, 64, 6, 50))


@pytest.fixture(scope="module")
def data():
    x = sample_box(200, seed=7)
    return x, damped(x)


def _train(data, **kw):
    x, y = data
    kw = {
        "parameters": NAMES,
        "box": BOX,
        "log10": True,
        "hidden": (16, 16),
        "stages": STAGES,
        "progress": False,
        "seed": 11,
        **kw,
    }
    return train_emulator(x, y, **kw)


def _weights(result):
    return np.concatenate([np.ravel(w) for w in result.emulator.network.weights])


def test_same_seed_same_weights_other_seed_differs(data):
    a, b = _train(data), _train(data)
    np.testing.assert_array_equal(_weights(a), _weights(b))
    np.testing.assert_array_equal(a.history["val_loss"], b.history["val_loss"])
    c = _train(data, seed=12)
    assert not np.array_equal(_weights(a), _weights(c))
    assert not np.array_equal(a.val_indices, c.val_indices)
    # the same settings as a spec object give the same run as the keywords
    spec = TrainSpec(EmulatorSpec(log10=True, hidden=(16, 16)), PhaseSpec(stages=STAGES), seed=11)
    d = train_emulator(*data, spec, parameters=NAMES, box=BOX, progress=False)
    np.testing.assert_array_equal(_weights(a), _weights(d))
    assert a.spec == d.spec


def test_unknown_setting_is_named():
    with pytest.raises(TypeError, match="unknown training setting 'n_component'.*did you mean "
                                        "'n_components'"):
        train_emulator(np.zeros((4, 4)), np.ones((4, 3)), parameters=NAMES, n_component=3)


def test_cosine_schedule_is_the_closed_form(data):
    """The learning rate is an optax schedule of the step; its record per epoch is the cosine."""
    lr, final, epochs, bs = 3e-3, 0.1, 5, 32
    res = _train(data, stages=(Stage(lr, bs, epochs, 50, decay="cosine", final=final),))
    steps = len(res.train_indices) // bs  # optimiser steps per epoch
    t = np.arange(epochs) * steps / ((epochs - 1) * steps)
    want = lr * (final + (1 - final) * 0.5 * (1 + np.cos(np.pi * t)))
    np.testing.assert_allclose(res.history["learning_rate"], want, rtol=1e-6)


def test_resume_after_interruption_equals_uninterrupted_run(data, tmp_path):
    full = _train(data)
    ckpt = tmp_path / "ckpt"

    def stop_at_epoch_8(info):
        if info["epoch"] == 7:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _train(data, checkpoint=ckpt, checkpoint_every=5, callback=stop_at_epoch_8)
    assert ckpt.with_name("ckpt.json").exists()
    resumed = _train(data, checkpoint=ckpt, checkpoint_every=5)
    np.testing.assert_array_equal(_weights(resumed), _weights(full))
    np.testing.assert_array_equal(resumed.history["train_loss"], full.history["train_loss"])
    # a checkpoint of another run is refused, not silently mixed in
    with pytest.raises(ValueError, match="different run"):
        _train(data, checkpoint=ckpt, hidden=(8, 8))


def test_weighted_loss_is_the_stated_formula(data):
    x, y = data
    sigma = 0.01 * y
    res = _train(data, loss="weighted", sigma=sigma, dtype="float64")
    v = res.val_indices
    pred = res.emulator.predict_numpy(x[v])
    direct = np.mean(((pred - y[v]) / sigma[v]) ** 2)
    assert res.summary["best_val_loss"] == pytest.approx(direct, rel=1e-4)


def test_best_weights_are_restored(data):
    """The emulator returned holds the weights of the epoch with the lowest validation loss,
    as recorded by a callback during training, not the last epoch's."""
    x, y = data
    sigma = 0.01 * y
    seen = []
    res = _train(data, loss="weighted", sigma=sigma, dtype="float64",
                 stages=(Stage(1e-2, 16, 8, 50), Stage(1e-1, 16, 4, 50)),  # 2nd: too fast
                 callback=lambda info: seen.append((info["val_loss"], info["network"])))
    vals = np.array([v for v, _ in seen])
    best = int(np.argmin(vals))
    assert best < len(vals) - 1 and vals[-1] > vals[best]  # restoring changes the result
    for got, want in zip(res.emulator.network.weights, seen[best][1].weights, strict=True):
        np.testing.assert_array_equal(got, np.asarray(want))
    v = res.val_indices  # and its validation loss, recomputed from its predictions
    pred = res.emulator.predict_numpy(x[v])
    assert np.mean(((pred - y[v]) / sigma[v]) ** 2) == pytest.approx(vals[best], rel=1e-4)


def test_divergence_stops_with_clear_error(data):
    with pytest.raises(TrainingError, match="lower the learning rate"):
        _train(data, stages=(Stage(1e30, 32, 3, 5),))


def test_bad_input_is_named(data):
    x, y = data
    y_bad = y.copy()
    y_bad[3, 5] = np.nan
    with pytest.raises(
        ValueError, match=r"outputs has 1 NaN/inf values in 1 rows \(first rows: \[3\]\)"
    ):
        train_emulator(x, y_bad, parameters=NAMES)
    with pytest.raises(ValueError, match=r"params must be \(n_samples, 3\)"):
        train_emulator(x, y, parameters=NAMES[:3])
    with pytest.raises(ValueError, match="did you mean 'pca'"):
        train_emulator(x, y, parameters=NAMES, kind="pcaa")
    with pytest.raises(ValueError, match="needs sigma"):
        train_emulator(x, y, parameters=NAMES, loss="weighted")
    with pytest.raises(ValueError, match="modes must have 60 entries"):
        train_emulator(x, y, parameters=NAMES, modes=X_GRID[:10])
