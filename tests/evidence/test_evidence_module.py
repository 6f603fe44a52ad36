"""``cosmoemu.evidence`` is both the subpackage and the function, in every import order."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC = str(Path(__file__).parents[2] / "src")

# each snippet imports in a different order, then checks the three spellings; a call with the
# log posterior missing shows that calling the module reaches the evidence function
CHECK = """
import sys, numpy as np
import cosmoemu
from cosmoemu import evidence as ev
from cosmoemu.evidence import bayes_factor, EvidenceResult
from cosmoemu.evidence import evidence as fn
mod = sys.modules["cosmoemu.evidence"]
assert cosmoemu.evidence is mod and ev is mod, (cosmoemu.evidence, ev)
assert callable(cosmoemu.evidence) and fn.__module__ == "cosmoemu.evidence._evidence"
assert bayes_factor is cosmoemu.bayes_factor
for call in (cosmoemu.evidence, ev, fn):
    try:
        call(np.zeros((4, 10, 2)))
    except ValueError as err:
        assert "log_posterior" in str(err), err
    else:
        raise AssertionError("no error")
print("ok")
"""

ORDERS = {
    "attribute first": "import cosmoemu\ncosmoemu.evidence\n",
    "from-import first": "from cosmoemu import evidence\n",
    "submodule first": "from cosmoemu.evidence import bayes_factor\nimport cosmoemu.evidence\n",
}


@pytest.mark.parametrize("order", list(ORDERS))
def test_evidence_callable_in_every_import_order(order):
    code = ORDERS[order] + CHECK
    env = {**os.environ, "PYTHONPATH": SRC, "OMP_NUM_THREADS": "1"}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=300)
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr[-2000:]
