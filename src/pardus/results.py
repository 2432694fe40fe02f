"""The results of a run as one xarray Dataset; saving, loading and the standard PVA tables.

See docs/outputs.md for every dimension, variable and attribute.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from . import __version__
from .fileio import atomic_write
from .population.lifetable import life_table
from .scenario.schema import CAUSES, SEXES, STAGES, Scenario

UNITS = {
    "N": "individuals",
    "N_before_truncation": "individuals",
    "breeding_females": "individuals",
    "births": "individuals",
    "deaths": "individuals",
    "released": "individuals",
    "gene_diversity": "1",
    "heterozygosity": "1",
    "alleles": "alleles per locus",
    "mean_inbreeding": "1",
    "mean_kinship": "1",
    "founder_genome_equivalents": "founders",
    "prey": "roe-deer equivalents per km2",
    "cost": "currency units",
}
DIMS = {
    "N": ("year", "population", "sex", "stage"),
    "N_before_truncation": ("year", "population"),
    "breeding_females": ("year", "population"),
    "births": ("year", "population"),
    "deaths": ("year", "population", "cause"),
    "released": ("year", "population"),
    "prey": ("year", "population"),
    "cost": ("year",),
}


class ResultsError(Exception):
    """A results file that cannot be used; the message says why and what to do."""


def build_dataset(scenarios: list[Scenario], names: list[str], records: list[dict[str, np.ndarray]], seed: int) -> xr.Dataset:
    """Assemble per-scenario records (replicate, year, …) into the results Dataset."""
    start = {sc.run.start_year for sc in scenarios}
    years = {sc.run.years for sc in scenarios}
    if len(start) != 1 or len(years) != 1:
        raise ValueError("scenarios of one run must share run.start_year and run.years")
    y0, T = start.pop(), years.pop()
    data = {}
    for var in records[0]:
        dims = ("scenario", "replicate") + DIMS.get(var, ("year",))
        arr = np.stack([r[var] for r in records])
        data[var] = xr.Variable(dims, arr, attrs={"units": UNITS.get(var, "1")})
    n_rep = records[0]["N"].shape[0]
    ds = xr.Dataset(
        data,
        coords={
            "scenario": [sc.name for sc in scenarios],
            "replicate": np.arange(n_rep),
            "year": np.arange(y0, y0 + T + 1),
            "population": names,
            "sex": list(SEXES),
            "stage": list(STAGES),
            "cause": list(CAUSES),
        },
    )
    ds.attrs.update(
        pardus_results=1,
        pardus_version=__version__,
        seed=int(seed),
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        scenarios=json.dumps({sc.name: sc.model_dump(mode="json") for sc in scenarios}, sort_keys=True),
    )
    return ds


def save_results(ds: xr.Dataset, path: str | Path) -> Path:
    """Write atomically (a temporary file in the same folder, renamed when complete), every
    variable zlib-compressed (the count arrays are mostly zeros: about 4× smaller)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    encoding = {v: {"zlib": True, "complevel": 4} for v in ds.data_vars}
    return atomic_write(path, lambda tmp: ds.to_netcdf(tmp, engine="h5netcdf", encoding=encoding))


def load_results(path: str | Path) -> xr.Dataset:
    path = Path(path)
    if not path.exists():
        raise ResultsError(f"{path}: no such file — give the results file written by `pardus run` or `pardus compare`")
    try:
        with xr.open_dataset(path, engine="h5netcdf") as ds:
            ds = ds.load()
    except Exception as exc:  # h5py/h5netcdf raise many kinds of errors on foreign files
        raise ResultsError(
            f"{path}: not a readable NetCDF-4 results file ({type(exc).__name__}: {exc}) — give a file written by `pardus run`"
        ) from None
    if int(ds.attrs.get("pardus_results", 0)) != 1:
        raise ResultsError(f"{path}: a NetCDF file, but not pardus results (attribute pardus_results missing) — give a file written by `pardus run`")
    missing = [v for v in ("N", "N_before_truncation", "deaths", "gene_diversity", "cost") if v not in ds]
    if missing:
        raise ResultsError(f"{path}: pardus results without {', '.join(missing)} — the file is damaged or from an incompatible version; run the scenario again")
    return ds


def scenarios_of(ds: xr.Dataset) -> dict[str, Scenario]:
    raw = json.loads(ds.attrs["scenarios"])
    return {name: Scenario.model_validate(d) for name, d in raw.items()}


# ---------------------------------------------------------------------------------------------
# the standard PVA table


def total_n(ds: xr.Dataset) -> xr.DataArray:
    """(scenario, replicate, year) census size over all populations, sexes and stages."""
    return ds["N"].sum(("population", "sex", "stage")).transpose("scenario", "replicate", "year")


def extinct_mask(ds: xr.Dataset, definition: str | dict[str, str] = "one_sex") -> xr.DataArray:
    """(scenario, replicate, year) True where the metapopulation counts as extinct that year.

    ``definition`` is ``"one_sex"`` (no animals, or animals of only one sex; Vortex's rule) or
    ``"no_animals"``, for all scenarios or per scenario name.
    """
    by_sex = ds["N"].sum(("population", "stage"))
    none = by_sex.sum("sex") == 0
    one_sex = (by_sex.sel(sex="female") == 0) | (by_sex.sel(sex="male") == 0)
    if isinstance(definition, str):
        out = one_sex if definition == "one_sex" else none
    else:
        pick = xr.DataArray(
            [definition.get(str(s), "one_sex") == "one_sex" for s in ds.scenario.values], dims="scenario", coords={"scenario": ds.scenario}
        )
        out = xr.where(pick, one_sex, none)
    return out.transpose("scenario", "replicate", "year")


def cumulative_extinct(ds: xr.Dataset, definition: str | dict[str, str] = "one_sex") -> xr.DataArray:
    """True from the first simulated year a replicate was extinct onwards. The initial census
    never counts: a scenario may start empty and be filled by releases."""
    ext = extinct_mask(ds, definition)
    ext = ext.where(ext.year > ext.year[0], False)
    return ext.cumsum("year") > 0


def extinction_time(ds: xr.Dataset, definition: str | dict[str, str] = "one_sex") -> xr.DataArray:
    """Years from the start to the first extinction (NaN where it never happened)."""
    ext = extinct_mask(ds, definition).isel(year=slice(1, None))
    ever = ext.any("year")
    first = ext.argmax("year") + 1
    return xr.where(ever, first, np.nan)


def pe_curve(ds: xr.Dataset, definition: str | dict[str, str] = "one_sex") -> xr.DataArray:
    """(scenario, year): share of replicates that have gone extinct by each year."""
    return cumulative_extinct(ds, definition).mean("replicate")


def _definitions(ds: xr.Dataset) -> tuple[dict[str, str], dict[str, int], dict[str, Scenario]]:
    scs = scenarios_of(ds)
    return (
        {n: s.run.extinction for n, s in scs.items()},
        {n: s.run.quasi_extinction for n, s in scs.items()},
        scs,
    )


def summarize(ds: xr.Dataset) -> pd.DataFrame:
    """The standard PVA table, one row per scenario (see docs/outputs.md)."""
    defs, quasi, scs = _definitions(ds)
    te_all = extinction_time(ds, defs)
    N = total_n(ds)
    Npre = ds["N_before_truncation"].sum("population")
    rows = []
    for s in ds.scenario.values:
        name = str(s)
        n_rep = ds.sizes["replicate"]
        te = te_all.sel(scenario=s).values
        extinct = ~np.isnan(te)
        pe = extinct.mean()
        curve = pe_curve(ds.sel(scenario=[s]), defs).sel(scenario=s).values
        years_from_start = np.arange(curve.size)
        median_te = float(years_from_start[np.argmax(curve >= 0.5)]) if curve[-1] >= 0.5 else np.nan
        nfin = N.sel(scenario=s).isel(year=-1).values.astype(float)
        extant_now = ~extinct_mask(ds.sel(scenario=[s]), defs).sel(scenario=s).isel(year=-1).values
        # stochastic r before truncation, over replicate-years before extinction
        n_prev = N.sel(scenario=s).values[:, :-1].astype(float)
        n_pre = Npre.sel(scenario=s).values[:, 1:].astype(float)
        t_idx = np.arange(1, N.sizes["year"])
        alive_before = np.where(extinct[:, None], t_idx[None, :] <= np.nan_to_num(te, nan=1e9)[:, None], True)
        ok = (n_prev > 0) & (n_pre > 0) & alive_before
        r = np.log(n_pre[ok] / n_prev[ok])
        gd = ds["gene_diversity"].sel(scenario=s).values
        gd_final = gd[extant_now, -1] if extant_now.any() else np.array([np.nan])
        nmin = N.sel(scenario=s).values[:, 1:].min(axis=1)
        lt = life_table(scs[name])
        rows.append(
            {
                "scenario": name,
                "replicates": n_rep,
                "years": ds.sizes["year"] - 1,
                "PE": pe,
                "PE_se": float(np.sqrt(pe * (1 - pe) / n_rep)),
                "median_TE": median_te,
                "mean_TE": float(np.nanmean(te)) if extinct.any() else np.nan,
                "N_mean": float(nfin.mean()),
                "N_sd": float(nfin.std(ddof=1)) if n_rep > 1 else np.nan,
                "N_extant_mean": float(nfin[extant_now].mean()) if extant_now.any() else np.nan,
                "N_extant_sd": float(nfin[extant_now].std(ddof=1)) if extant_now.sum() > 1 else np.nan,
                "r_stoch": float(r.mean()) if r.size else np.nan,
                "r_stoch_sd": float(r.std(ddof=1)) if r.size > 1 else np.nan,
                "r_det": lt.r,
                "lambda_det": lt.lam,
                "R0": lt.R0,
                "generation_time": lt.generation_time,
                "GD_initial": float(np.nanmean(gd[:, 0])),
                "GD_final": float(np.nanmean(gd_final)) if np.isfinite(gd_final).any() else np.nan,
                "GD_retained": float(np.nanmean(gd_final) / np.nanmean(gd[:, 0])) if np.isfinite(gd_final).any() else np.nan,
                "quasi_threshold": quasi[name],
                "quasi_PE": float((nmin < quasi[name]).mean()),
                "total_cost_mean": float(ds["cost"].sel(scenario=s).sum("year").mean()),
            }
        )
    return pd.DataFrame(rows).set_index("scenario")


def compare_to_baseline(ds: xr.Dataset, baseline: str | None = None) -> pd.DataFrame:
    """Paired differences scenario − baseline, replicate by replicate (common random numbers).

    dPE < 0 means the scenario lowers extinction risk; ``dPE_per_million`` is dPE per million
    currency units of extra cost (negative = risk bought down per million spent).
    """
    defs, _q, _s = _definitions(ds)
    names = [str(s) for s in ds.scenario.values]
    baseline = baseline or names[0]
    if baseline not in names:
        raise ResultsError(f"baseline '{baseline}' is not a scenario of this file — scenarios: {', '.join(names)}")
    ext = ~np.isnan(extinction_time(ds, defs))
    N = total_n(ds).isel(year=-1)
    gd = ds["gene_diversity"].isel(year=-1)
    cost = ds["cost"].sum("year")
    n = ds.sizes["replicate"]
    rows = []
    for s in names:
        if s == baseline:
            continue
        d_e = (ext.sel(scenario=s) * 1.0 - ext.sel(scenario=baseline) * 1.0).values
        d_n = (N.sel(scenario=s) - N.sel(scenario=baseline)).values.astype(float)
        d_g = (gd.sel(scenario=s) - gd.sel(scenario=baseline)).values
        d_g = d_g[np.isfinite(d_g)]
        se_e = float(d_e.std(ddof=1) / np.sqrt(n)) if n > 1 else np.nan
        extra = float((cost.sel(scenario=s) - cost.sel(scenario=baseline)).mean())
        dpe = float(d_e.mean())
        rows.append(
            {
                "scenario": s,
                "dPE": dpe,
                "dPE_se": se_e,
                "dPE_ci_low": dpe - 1.96 * se_e,
                "dPE_ci_high": dpe + 1.96 * se_e,
                "dN_mean": float(d_n.mean()),
                "dN_se": float(d_n.std(ddof=1) / np.sqrt(n)) if n > 1 else np.nan,
                "dGD": float(d_g.mean()) if d_g.size else np.nan,
                "dGD_se": float(d_g.std(ddof=1) / np.sqrt(d_g.size)) if d_g.size > 1 else np.nan,
                "extra_cost": extra,
                "dPE_per_million": dpe / (extra / 1e6) if extra > 0 else np.nan,
            }
        )
    cols = ["dPE", "dPE_se", "dPE_ci_low", "dPE_ci_high", "dN_mean", "dN_se", "dGD", "dGD_se", "extra_cost", "dPE_per_million"]
    return pd.DataFrame(rows, columns=["scenario", *cols]).set_index("scenario")
