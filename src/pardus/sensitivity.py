"""Global sensitivity of a scenario's outcomes to its uncertain parameters (`pardus sensitivity`).

Design, run and analysis are kept apart, as in SALib (Herman & Usher 2017, Journal of Open
Source Software 2: 97; Iwanaga et al. 2022, Socio-Environmental Systems Modelling 4: 18155),
which provides the designs and the indices:

1. **design** — each parameter gets a range, given as ``KEY=LO:HI`` or read from its source
   (``assumption (range LO–HI)``, as every uncertain default of a shipped preset says); Sobol'
   samples (Saltelli's scheme, first- and total-order indices) or Morris trajectories;
2. **run** — one scenario per sample, every one with the same seed (common random numbers: a
   parameter that cannot act changes no draw, so its indices are exactly 0), ``replicates``
   replicates each, on local processes or a Dask cluster;
3. **analyse** — for each outcome (probability of extinction, mean final N, final gene diversity,
   stochastic growth rate) the indices with their bootstrap confidence intervals.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from .scenario.explain import parameter_rows
from .scenario.loader import Resolved

OUTCOMES = {
    "PE": "probability of extinction",
    "N_mean": "mean final N",
    "GD_final": "final gene diversity",
    "r_stoch": "stochastic growth rate r",
}
METHODS = ("sobol", "morris")
_RANGE = re.compile(r"range\s+(-?\d+(?:\.\d+)?)\s*(?:–|-|to)\s*(-?\d+(?:\.\d+)?)")


class SensitivityError(ValueError):
    """A parameter or option that cannot be used; the message says the fix."""


@dataclass(frozen=True)
class Problem:
    keys: list[str]
    bounds: list[tuple[float, float]]
    integer: list[bool]
    members: list[tuple[str, ...]] | None = None  # the parameters each key sets (a key with * sets every match)

    def overrides(self, row) -> dict:
        """The scenario overrides of one sample (integer parameters rounded)."""
        out = {}
        members = self.members or [(k,) for k in self.keys]
        for keys, v, integer in zip(members, row, self.integer):
            for k in keys:
                out[k] = int(round(float(v))) if integer else float(v)
        return out

    def salib(self) -> dict:
        return {"num_vars": len(self.keys), "names": list(self.keys), "bounds": [list(b) for b in self.bounds]}


def problem(res: Resolved, specs: list[str]) -> Problem:
    """Parameters and their ranges from ``KEY`` (the range of its source) or ``KEY=LO:HI``. A
    key with ``*`` (e.g. ``demography.survival.*.adult``) is one parameter that sets every
    parameter it matches (the value and range of the first)."""
    from fnmatch import fnmatchcase

    rows = {key: (value, source) for key, value, _set_by, source in parameter_rows(res)}
    keys, bounds, integer, members, problems = [], [], [], [], []
    for spec in specs:
        key, _, given = spec.partition("=")
        key = key.strip()
        matched = tuple(k for k in rows if fnmatchcase(k, key)) if "*" in key else (key,) if key in rows else ()
        if "*" in key and not matched:
            problems.append(f"--param {spec}: {key} matches no parameter of {res.scenario.name} — see `pardus explain`")
            continue
        if matched:
            rows[key] = rows[matched[0]]
        if key not in rows:
            close = [k for k in rows if k.endswith(key.split(".")[-1])][:3]
            problems.append(f"--param {spec}: {key} is not a parameter of {res.scenario.name}" + (f" — did you mean {', '.join(close)}?" if close else " — see `pardus explain`"))
            continue
        value, source = rows[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            problems.append(f"--param {spec}: {key} = {value!r} is not a number — only numeric parameters can be varied")
            continue
        if given:
            try:
                lo, hi = (float(x) for x in given.split(":"))
            except ValueError:
                problems.append(f"--param {spec}: write the range as {key}=LO:HI, e.g. {key}={value}:{value}")
                continue
        else:
            m = _RANGE.search(source or "")
            if not m:
                problems.append(f"--param {spec}: the source of {key} gives no range ({source!r}) — give it as {key}=LO:HI")
                continue
            lo, hi = float(m.group(1)), float(m.group(2))
        if not lo < hi:
            problems.append(f"--param {spec}: the range {lo:g}–{hi:g} is empty — give LO < HI")
            continue
        if key in keys:
            problems.append(f"--param {spec}: {key} is given twice")
            continue
        keys.append(key)
        bounds.append((lo, hi))
        integer.append(isinstance(value, int))
        members.append(matched)
    if problems:
        raise SensitivityError("\n".join(problems))
    if not keys:
        raise SensitivityError("no parameters — give at least one --param KEY or --param KEY=LO:HI")
    return Problem(keys, bounds, integer, members)


def design(prob: Problem, method: str, n: int, seed: int) -> np.ndarray:
    """The sample matrix (one row per scenario to run)."""
    if method == "sobol":
        from SALib.sample import sobol

        if n & (n - 1):
            raise SensitivityError(f"--samples {n}: Sobol' sampling needs a power of 2 (e.g. {1 << max(n.bit_length() - 1, 1)})")
        return sobol.sample(prob.salib(), n, calc_second_order=False, seed=seed)
    if method == "morris":
        from SALib.sample import morris

        return morris.sample(prob.salib(), n, seed=seed)
    raise SensitivityError(f"--method {method}: one of {', '.join(METHODS)}")


def scenarios(res: Resolved, prob: Problem, X: np.ndarray) -> list:
    """One scenario per row of the design (integer parameters rounded)."""
    out = []
    width = len(str(len(X)))
    for i, row in enumerate(X):
        over = prob.overrides(row)
        over["name"] = f"{res.scenario.name}#{i:0{width}d}"
        out.append(res.scenario.replace(over))
    return out


def analyse(prob: Problem, method: str, X: np.ndarray, outcomes, seed: int) -> list[dict]:
    """Indices per (outcome, parameter); ``outcomes`` is the summary table of the runs, one row
    per design row in order."""
    rows = []
    for outcome in OUTCOMES:
        Y = np.asarray(outcomes[outcome], dtype=float)
        if not np.isfinite(Y).all():  # e.g. final gene diversity of a run in which every replicate died out
            for key in prob.keys:
                rows.append({"outcome": outcome, "parameter": key, "varies": False, "note": "undefined in some runs"})
            continue
        if np.ptp(Y) == 0.0:
            for key in prob.keys:
                rows.append({"outcome": outcome, "parameter": key, "varies": False, "note": "does not vary"})
            continue
        if method == "sobol":
            from SALib.analyze import sobol

            r = sobol.analyze(prob.salib(), Y, calc_second_order=False, seed=seed)
            for j, key in enumerate(prob.keys):
                rows.append({"outcome": outcome, "parameter": key, "varies": True, "S1": r["S1"][j], "S1_conf": r["S1_conf"][j], "ST": r["ST"][j], "ST_conf": r["ST_conf"][j]})
        else:
            from SALib.analyze import morris

            r = morris.analyze(prob.salib(), X, Y, seed=seed)
            for j, key in enumerate(prob.keys):
                rows.append({"outcome": outcome, "parameter": key, "varies": True, "mu_star": r["mu_star"][j], "mu_star_conf": r["mu_star_conf"][j], "sigma": r["sigma"][j]})
    return rows


def run(res: Resolved, specs: list[str], method: str = "sobol", n: int = 64, replicates: int = 20, seed: int = 1, workers: int | None = None, scheduler: str | None = None, progress=None):
    """Design, run and analyse; returns (problem, design, the summary table of the runs, index rows)."""
    from .ensemble import run_ensemble
    from .results import build_dataset, summarize

    prob = problem(res, specs)
    X = design(prob, method, n, seed)
    scs = scenarios(res, prob, X)
    names, records = run_ensemble(scs, replicates=replicates, seed=seed, workers=workers, scheduler=scheduler, progress=progress)
    table = summarize(build_dataset(scs, names, records, seed)).loc[[s.name for s in scs]]
    return prob, X, table, analyse(prob, method, X, table, seed)
