"""ΛCDM against w0waCDM on the Euclid-like shear mock: ln B from NUTS + the learnt harmonic mean,
checked against a nested sampler (dynesty) on the reduced problem (issue 12).

Reduced problem: examples/euclid_like_shear.yaml and examples/euclid_like_shear_w0wa.yaml with
the 30 nuisances (A_IA_i, dz_i, m_i) fixed at the mock's values: 7 and 9 sampled parameters, the
same uniform priors, the same noise-free mock (ΛCDM, so w0 = −1, wa = 0 lies inside the w0waCDM
prior and ln B(ΛCDM vs w0waCDM) is the Occam factor of the two extra parameters, positive).
For each model: NUTS (4 chains) + ``cosmoemu.evidence`` on the chains as they come, and
dynesty (random walks in bounding ellipsoids, ``--nlive`` live points) on the same log-likelihood
and prior. Prints ln Z of each, ln B both ways, and their difference in joint σ.

``--full`` also samples the 37- and 39-parameter posteriors (every nuisance free) with the
configs' own sampler settings and prints ln B from their chains (no nested-sampling check: that
is what the reduced problem is for; dynesty at 39 dimensions runs for hours here).

Run: ``nice -n 10 python benchmarks/euclid_evidence.py [--nlive 400] [--full] [--json F]``
(dynesty: the ``bench`` extra).
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = {"lcdm": ROOT / "examples" / "euclid_like_shear.yaml",
           "w0wacdm": ROOT / "examples" / "euclid_like_shear_w0wa.yaml"}
NUISANCES = ("A_IA", "dz", "m")


def reduced_config(path: Path) -> dict:
    """The config with every nuisance block fixed at the mock's values."""
    from cosmoemu._config import load_yaml

    cfg = copy.deepcopy(load_yaml(path))
    mock = cfg["likelihood"]["shear_cl"]["mock"]
    for name in NUISANCES:
        entry = cfg["params"][name]
        cfg["params"][name] = {"shape": entry["shape"], "value": mock[name]}
    return cfg


def _evidence(result, seed: int = 0):
    from cosmoemu.evidence import EvidenceWarning, evidence

    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always", EvidenceWarning)
        r = evidence(result, seed=seed)
    return r, [str(w.message) for w in record if issubclass(w.category, EvidenceWarning)]


def nuts_evidence(cfg: dict, min_draws: int | None = None) -> dict:
    """NUTS chains of the config's posterior and their learnt-harmonic-mean ln Z."""
    import dataclasses

    import jax

    from cosmoemu.inference import load_run_config, sample_posterior

    run = load_run_config(cfg)
    nuts = run.nuts if min_draws is None else dataclasses.replace(
        run.nuts, min_draws=min_draws, target_ess=min(run.nuts.target_ess, 1000))
    t0 = time.perf_counter()
    res = sample_posterior(run.posterior, jax.random.key(run.seed), nuts,
                           reference=run.reference, progress=False)
    t_nuts = time.perf_counter() - t0
    t0 = time.perf_counter()
    r, warned = _evidence(res)
    t_ev = time.perf_counter() - t0
    return {"ln_z": r.ln_z, "ln_z_err": r.ln_z_err, "ndim": run.posterior.ndim,
            "converged": bool(res.converged), "draws_per_chain": int(res.chains.lengths[0]),
            "t_nuts_s": t_nuts, "t_evidence_s": t_ev, "warnings": warned,
            "posterior": run.posterior}


def dynesty_evidence(posterior, nlive: int, seed: int = 0) -> dict:
    """dynesty's ln Z for the same log-likelihood and (uniform) prior."""
    import dynesty

    from cosmoemu.inference import Uniform

    lo, hi = [], []
    for name, prior in zip(posterior.sampled, posterior.priors, strict=True):
        if not isinstance(prior, Uniform):
            raise TypeError(f"{name}: the reduced problem has uniform priors only, got "
                            f"{type(prior).__name__}")
        a, b = prior.support
        lo.append(a)
        hi.append(b)
    lo, hi = np.asarray(lo), np.asarray(hi)
    loglike = posterior.loglike

    def transform(u):
        return lo + (hi - lo) * u

    t0 = time.perf_counter()
    sampler = dynesty.NestedSampler(lambda x: float(loglike(x)), transform, posterior.ndim,
                                    nlive=nlive, sample="rwalk", bootstrap=0,
                                    rstate=np.random.default_rng(seed))
    sampler.run_nested(dlogz=0.05, print_progress=False)
    res = sampler.results
    return {"ln_z": float(res.logz[-1]), "ln_z_err": float(res.logzerr[-1]),
            "ncall": int(np.sum(res.ncall)), "t_s": time.perf_counter() - t0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--nlive", type=int, default=400, help="dynesty live points")
    ap.add_argument("--full", action="store_true", help="also the 37- vs 39-parameter ln B")
    ap.add_argument("--json", type=Path, help="write the figures here")
    args = ap.parse_args()
    out: dict = {"reduced": {}, "full": {}}
    print("== reduced problem (nuisances fixed): NUTS + learnt harmonic mean vs dynesty ==")
    for model, path in CONFIGS.items():
        ours = nuts_evidence(reduced_config(path), min_draws=2000)
        post = ours.pop("posterior")
        nested = dynesty_evidence(post, args.nlive)
        joint = math.hypot(ours["ln_z_err"], nested["ln_z_err"])
        warned = "; WARNED " + "; ".join(ours["warnings"]) if ours["warnings"] else ""
        print(f"{model:8s} d={ours['ndim']}: ours ln Z = {ours['ln_z']:.3f} ± "
              f"{ours['ln_z_err']:.3f} (NUTS {ours['t_nuts_s']:.0f} s + evidence "
              f"{ours['t_evidence_s']:.0f} s{warned})"
              f" | dynesty {nested['ln_z']:.3f} ± {nested['ln_z_err']:.3f} ({nested['ncall']} "
              f"calls, {nested['t_s']:.0f} s) | Δ = {ours['ln_z'] - nested['ln_z']:+.3f} = "
              f"{(ours['ln_z'] - nested['ln_z']) / joint:+.1f} joint σ")
        out["reduced"][model] = {"ours": ours, "dynesty": nested}
    r = out["reduced"]
    b_ours = r["lcdm"]["ours"]["ln_z"] - r["w0wacdm"]["ours"]["ln_z"]
    e_ours = math.hypot(r["lcdm"]["ours"]["ln_z_err"], r["w0wacdm"]["ours"]["ln_z_err"])
    b_nest = r["lcdm"]["dynesty"]["ln_z"] - r["w0wacdm"]["dynesty"]["ln_z"]
    e_nest = math.hypot(r["lcdm"]["dynesty"]["ln_z_err"], r["w0wacdm"]["dynesty"]["ln_z_err"])
    print(f"ln B(ΛCDM vs w0waCDM), reduced: ours {b_ours:.3f} ± {e_ours:.3f}, dynesty "
          f"{b_nest:.3f} ± {e_nest:.3f}: difference {(b_ours - b_nest):+.3f} = "
          f"{(b_ours - b_nest) / math.hypot(e_ours, e_nest):+.1f} joint σ")
    out["reduced"]["ln_B"] = {"ours": [b_ours, e_ours], "dynesty": [b_nest, e_nest]}
    if args.full:
        from cosmoemu._config import load_yaml

        print("\n== full problem (37 vs 39 parameters): NUTS + learnt harmonic mean ==")
        for model, path in CONFIGS.items():
            ours = nuts_evidence(load_yaml(path))
            ours.pop("posterior")
            print(f"{model:8s} d={ours['ndim']}: ln Z = {ours['ln_z']:.3f} ± "
                  f"{ours['ln_z_err']:.3f}; converged {ours['converged']}, "
                  f"{ours['draws_per_chain']} draws/chain, NUTS {ours['t_nuts_s']:.0f} s")
            out["full"][model] = ours
        f = out["full"]
        b = f["lcdm"]["ln_z"] - f["w0wacdm"]["ln_z"]
        e = math.hypot(f["lcdm"]["ln_z_err"], f["w0wacdm"]["ln_z_err"])
        print(f"ln B(ΛCDM vs w0waCDM), full: {b:.3f} ± {e:.3f}")
        out["full"]["ln_B"] = [b, e]
    if args.json:
        args.json.write_text(json.dumps(out, indent=1, default=float))


if __name__ == "__main__":
    main()
