"""What the sandboxed, chunked pipeline of ``cosmoemu generate`` costs over calling CAMB directly.

Side by side in one process, one worker: the same cosmologies computed by
``CambBackend.compute`` in-process and by ``generate`` (sandbox process, pipes, atomic chunk
writes, manifest); and the pipeline's fixed cost per sample with the zero-cost toy backend.

    nice -n 10 python benchmarks/bench_generate_overhead.py [--n 8] [--lmax 1000]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

from cosmoemu.data import CambBackend, generate, make_design, parse_config  # noqa: E402

BOX = {"omega_b": [0.020, 0.025], "omega_cdm": [0.10, 0.14], "h": [0.62, 0.74],
       "tau_reio": [0.03, 0.09], "n_s": [0.93, 1.00], "ln10^{10}A_s": [2.9, 3.2]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=8, help="CAMB cosmologies (default 8)")
    ap.add_argument("--lmax", type=int, default=1000)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        toy = {"output": f"{tmp}/toy", "backend": "toy", "parameters": {"a": [0, 1]},
               "design": {"kind": "lhs", "n": 400, "seed": 0}, "quantities": ["tt", "derived"],
               "cmb": {"lmax": args.lmax}, "chunk_size": 25}
        s = generate(toy, workers=1, progress=False)
        toy_ms = 1e3 * s.wall_seconds / s.computed

        cfg = {"output": f"{tmp}/camb", "backend": "camb", "parameters": BOX,
               "design": {"kind": "lhs", "n": args.n, "seed": 0},
               "quantities": ["tt", "te", "ee", "pp", "derived"], "cmb": {"lmax": args.lmax},
               "chunk_size": 4}
        checked = parse_config(cfg)
        params, _ = make_design(checked.box, checked.designs)
        backend = CambBackend(checked.request, checked.settings, checked.fixed)
        t0 = time.perf_counter()
        for row in params:
            backend.compute(dict(zip(checked.box.names, row, strict=True)))
        direct = (time.perf_counter() - t0) / args.n
        s = generate(cfg, workers=1, progress=False)
        piped = s.wall_seconds / s.computed

    print(f"toy backend (no work): {toy_ms:.2f} ms per sample through sandbox + store "
          f"(lmax {args.lmax})")
    print(f"CAMB lmax {args.lmax}, {args.n} cosmologies, 1 worker:")
    print(f"  direct CambBackend.compute  {direct:8.3f} s per sample")
    print(f"  cosmoemu generate           {piped:8.3f} s per sample "
          f"(incl. design, CAMB import in the sandbox, chunk writes)")
    print(f"  ratio generate / direct     {piped / direct:8.3f}")


if __name__ == "__main__":
    main()
