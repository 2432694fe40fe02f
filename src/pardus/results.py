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
from .scenario.checks import common_currency
from .processes.monitoring import SURVEY_RECORDS
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
    "cost": "currency units",  # replaced by the run's currency (run.currency) in build_dataset
    "occupied_years": "years",
    # the spatial form (a scenario with [landscape])
    "burned_km2": "km2",
    "forest_km2": "km2",
    "residents": "individuals",
    "infected": "individuals",
    "burn_probability": "1",
    "occupancy": "1",
    "mean_prey": "roe-deer equivalents per km2",
    "forest_lost": "1",
    "forest_gained": "1",
    "dispersal_passage": "steps per year",
    # simulated camera-trap surveys ([landscape.monitoring]; NaN in years without a survey)
    **{name: units for name, (units, _) in SURVEY_RECORDS.items()},
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
    "occupied_years": ("cell",),  # a running sum over the simulated years, per cell of the landscape
    "burned_km2": ("year", "population"),
    "forest_km2": ("year", "population"),
    "residents": ("year", "population"),
    "infected": ("year", "population"),
}
# per-(replicate, cell) records of a spatial run, summarised over the replicates as maps
MAP_INPUTS = ("occupied_years", "burned_years", "prey_sum", "cover_end", "range_years", "dispersal_steps")
MAP_DESCRIPTIONS = {
    "burn_probability": "probability that the cell burns in a year (over replicates and years)",
    "occupancy": "probability that the cell lies in a resident leopard's home range at the end of a year (over replicates and years)",
    "mean_prey": "prey density over replicates and years",
    "forest_lost": "probability that the cell is forest (mixed or oak) at the start and not at the end",
    "forest_gained": "probability that the cell is not forest at the start and is at the end",
    "dispersal_passage": "steps of dispersing leopards into the cell per year (over replicates and years): where the simulated dispersers walk",
}


def _maps(scenarios: list[Scenario], records: list[dict[str, np.ndarray]], T: int) -> tuple[dict, dict, dict]:
    """The map variables (scenario, y, x) of a spatial run, the landscape's own layers (y, x) and
    the x / y coordinates; the scenarios must share one [landscape] map."""
    from .landscape.layers import LAYERS
    from .spatial import FOREST, load_landscape

    specs = {(sc.landscape.source, sc.landscape.seed) for sc in scenarios if sc.landscape is not None}
    if len(specs) != 1 or any(sc.landscape is None for sc in scenarios):
        raise ValueError("scenarios of one run must all be on the same map (the same landscape.source and landscape.seed) or all non-spatial")
    land = load_landscape(scenarios[0].landscape)
    g = land.grid
    shape = g.shape
    x, y = g.centres()
    coords = {"x": x.reshape(shape)[0], "y": y.reshape(shape)[:, 0]}
    cover0 = land.layers["cover"]
    forest0 = np.isin(cover0, FOREST)
    maps: dict[str, list] = {k: [] for k in MAP_DESCRIPTIONS}
    for rec in records:
        maps["burn_probability"].append(rec["burned_years"].mean(axis=0) / T)
        maps["occupancy"].append(rec["range_years"].mean(axis=0) / T)
        maps["mean_prey"].append(rec["prey_sum"].astype(float).mean(axis=0) / T)
        forest_end = np.isin(rec["cover_end"], FOREST)
        maps["forest_lost"].append((forest0 & ~forest_end).mean(axis=0))
        maps["forest_gained"].append((~forest0 & forest_end).mean(axis=0))
        maps["dispersal_passage"].append(rec["dispersal_steps"].astype(float).mean(axis=0) / T if "dispersal_steps" in rec else np.zeros(land.n_cells))
    data = {
        k: xr.Variable(("scenario", "y", "x"), np.stack(v).reshape((len(records),) + shape), attrs={"units": UNITS[k], "long_name": MAP_DESCRIPTIONS[k]})
        for k, v in maps.items()
    }
    static = {}
    for name in ("cover", "zone", "road"):
        if name in land.layers:
            spec = LAYERS[name]
            static[f"landscape_{name}"] = xr.Variable(
                ("y", "x"), land.layers[name].reshape(shape).astype(np.int16),
                attrs={"long_name": f"{name} at the start ({spec.description})", "codes": json.dumps({str(k): v for k, v in (spec.codes or {}).items()})},
            )  # fmt: skip
    static["landscape_country"] = xr.Variable(
        ("y", "x"), land.regions["country"].codes.reshape(shape).astype(np.int16), attrs={"long_name": "country region (code → name in 'codes', −1 none)", "codes": json.dumps(dict(enumerate(land.regions["country"].names)))}
    )
    attrs = {"crs": g.crs or "", "transform": json.dumps(list(g.transform or ())), "cell_size": float(g.cell_size or 0.0)}
    return data | static, coords, attrs



class ResultsError(Exception):
    """A results file that cannot be used; the message says why and what to do."""


def build_dataset(
    scenarios: list[Scenario],
    names: list[str],
    records: list[dict[str, np.ndarray]],
    seed: int,
    *,
    sweeps: list[dict] | None = None,
) -> xr.Dataset:
    """Assemble per-scenario records (replicate, year, …) into the results Dataset.

    ``sweeps`` — one dict per scenario (dotted key → swept value, ``Resolved.sweep``; ``{}``
    for a scenario that is not part of a sweep) — is stored as one ``sweep:<dotted key>``
    coordinate per key along ``scenario`` (see :func:`add_sweeps`). The scenarios must share
    ``run.start_year``, ``run.years`` and ``run.currency`` (ValueError otherwise); the
    currency becomes the ``units`` of ``cost``.
    """
    start = {sc.run.start_year for sc in scenarios}
    years = {sc.run.years for sc in scenarios}
    if len(start) != 1 or len(years) != 1:
        raise ValueError("scenarios of one run must share run.start_year and run.years")
    currency = common_currency(scenarios)
    y0, T = start.pop(), years.pop()
    data = {}
    spatial = "burned_years" in records[0]
    coords_map, map_attrs = {}, {}
    if spatial:
        maps, coords_map, map_attrs = _maps(scenarios, records, T)
        data.update(maps)
    for var in records[0]:
        if spatial and var in MAP_INPUTS:
            continue  # summarised as maps above
        dims = ("scenario", "replicate") + DIMS.get(var, ("year",))
        arr = np.stack([r[var] for r in records])
        units = currency if var == "cost" else UNITS.get(var, "1")
        data[var] = xr.Variable(dims, arr, attrs={"units": units})
    n_rep = records[0]["N"].shape[0]
    ds = xr.Dataset(
        data,
        coords={
            "scenario": [sc.name for sc in scenarios],
            "replicate": np.arange(n_rep),
            "year": np.arange(y0, y0 + T + 1),
            "population": names,
            **({"cell": names} if not spatial else {}),  # the non-spatial landscape: one cell per population
            **coords_map,
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
        currency=currency,
        spatial=int(spatial),
        **{f"landscape_{k}": v for k, v in map_attrs.items()},
    )
    if sweeps is not None:
        ds = add_sweeps(ds, sweeps)
    return ds


# ---------------------------------------------------------------------------------------------
# sweeps and currency stored in the Dataset

SWEEP_PREFIX = "sweep:"


def _is_number(v: object) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def _sweep_text(v: object) -> str:
    if v is None:
        return ""
    return v if isinstance(v, str) else json.dumps(v)  # lists as JSON, booleans as true / false


def add_sweeps(ds: xr.Dataset, sweeps: list[dict]) -> xr.Dataset:
    """*ds* with one coordinate ``sweep:<dotted key>`` along ``scenario`` per swept key.

    ``sweeps`` has one dict per scenario, in the order of ``ds.scenario`` (dotted key → value;
    ``{}`` for a scenario outside the sweep). A key whose values are all numbers is stored as
    float (NaN where a scenario has no value); any other key as text (strings as they are,
    lists and booleans as JSON, "" where a scenario has no value). The keys, in the order they
    first appear, go to the attribute ``sweep_keys`` (a JSON list). No swept key: *ds* as it was.
    """
    names = [str(s) for s in ds["scenario"].values]
    if len(sweeps) != len(names):
        raise ValueError(f"sweeps: {len(sweeps)} dict(s) for {len(names)} scenario(s) — give one per scenario, {{}} for a scenario outside the sweep")
    keys: list[str] = []
    for sw in sweeps:
        keys.extend(k for k in (sw or {}) if k not in keys)
    if not keys:
        return ds
    coords = {}
    for key in keys:
        values = [(sw or {}).get(key) for sw in sweeps]
        present = [v for v in values if v is not None]
        if present and all(_is_number(v) for v in present):
            arr = np.array([np.nan if v is None else float(v) for v in values], dtype=float)
        else:
            arr = np.array([_sweep_text(v) for v in values], dtype=str)
        coords[SWEEP_PREFIX + key] = xr.Variable(("scenario",), arr, attrs={"long_name": f"swept value of {key}"})
    out = ds.assign_coords(coords)
    out.attrs["sweep_keys"] = json.dumps(keys)
    return out


def sweep_keys(ds: xr.Dataset) -> list[str]:
    """The swept dotted keys of *ds* in sweep order ([] when the results are not from a sweep)."""
    present = [str(c)[len(SWEEP_PREFIX):] for c in ds.coords if str(c).startswith(SWEEP_PREFIX)]
    try:
        ordered = [k for k in json.loads(ds.attrs.get("sweep_keys", "[]")) if k in present]
    except (TypeError, ValueError):
        ordered = []
    return ordered + [k for k in present if k not in ordered]


def sweep_table(ds: xr.Dataset) -> pd.DataFrame:
    """One row per scenario (index ``scenario``), one column per swept key (the dotted key):
    float for numeric keys (NaN = no value), str otherwise ("" = no value). No columns when
    the results are not from a sweep."""
    index = pd.Index([str(s) for s in ds["scenario"].values], name="scenario")
    cols = {}
    for key in sweep_keys(ds):
        vals = np.asarray(ds.coords[SWEEP_PREFIX + key].values)
        cols[key] = vals.astype(float) if vals.dtype.kind in "fiu" else [str(v) for v in vals]
    return pd.DataFrame(cols, index=index)


def currency(ds: xr.Dataset) -> str:
    """The currency of every cost in *ds*: the ``units`` of ``cost`` (set from ``run.currency``
    by build_dataset); for files written before pardus stored it, the ``run.currency`` shared
    by the stored scenarios, else "currency units"."""
    units = ds["cost"].attrs.get("units") if "cost" in ds else None
    if units and str(units) not in ("currency units", "1"):
        return str(units)
    if isinstance(ds.attrs.get("currency"), str) and ds.attrs["currency"].strip():
        return ds.attrs["currency"]
    try:
        raw = json.loads(ds.attrs.get("scenarios", "{}"))
        found = {spec["run"]["currency"] for spec in raw.values() if isinstance(spec.get("run", {}).get("currency"), str)}
    except (TypeError, ValueError, AttributeError, KeyError):
        found = set()
    return found.pop() if len(found) == 1 else "currency units"


def _deterministic(ds: xr.Dataset, sc):
    """The life table's λ, r, R0 and generation time of a scenario; for a run with
    ``--posterior`` their mean over the replicates' drawn parameter sets (each set's own life
    table), since the scenario's own values are not what was simulated."""
    if "posterior_particle" not in ds or "calibration" not in ds.attrs:
        return life_table(sc)
    from types import SimpleNamespace

    members = json.loads(json.loads(ds.attrs["calibration"])["members"])
    cal_keys = [str(k) for k in ds["calibration_parameter"].values]
    used = [str(k) for k in ds["posterior_parameter"].values]
    draw = ds["posterior_particle"].values
    values = ds["posterior_value"].values
    tables = []
    for j in np.unique(draw):
        row = values[np.flatnonzero(draw == j)[0]]
        over = {}
        for key, v in zip(used, row):
            i = cal_keys.index(key)
            integer = bool(ds["calibration_integer"].values[i]) if "calibration_integer" in ds else False
            for k in members[i]:
                over[k] = int(round(float(v))) if integer else float(v)
        tables.append((int((draw == j).sum()), life_table(sc.replace(over))))
    n = sum(c for c, _ in tables)
    mean = lambda attr: sum(c * getattr(t, attr) for c, t in tables) / n  # noqa: E731
    return SimpleNamespace(lam=mean("lam"), r=mean("r"), R0=mean("R0"), generation_time=mean("generation_time"))


def save_results(ds: xr.Dataset, path: str | Path) -> Path:
    """Write atomically (a temporary file in the same folder, renamed when complete), every
    variable byte-shuffled and zlib-compressed (the count arrays are mostly zeros: about 5×
    smaller; shuffling first makes level 1 both faster and smaller)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    encoding = {v: {"zlib": True, "complevel": 1, "shuffle": True} for v in ds.data_vars}
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
    """The standard PVA table, one row per scenario (see docs/outputs.md): the swept values
    first (one column per dotted key, for results of a ``[sweep]``), then the outcomes;
    ``total_cost_mean`` is in the currency named in the ``currency`` column."""
    defs, quasi, scs = _definitions(ds)
    swept = sweep_table(ds)
    cur = currency(ds)
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
        lt = _deterministic(ds, scs[name])
        rows.append(
            {
                "scenario": name,
                **{k: swept.at[name, k] for k in swept.columns},
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
                "currency": cur,
            }
        )
    return pd.DataFrame(rows).set_index("scenario")


def compare_to_baseline(ds: xr.Dataset, baseline: str | None = None) -> pd.DataFrame:
    """Paired differences scenario − baseline, replicate by replicate (common random numbers).

    dPE < 0 means the scenario lowers extinction risk; ``dPE_per_million`` is dPE per million
    of extra cost (negative = risk bought down per million spent). ``extra_cost`` and the
    millions are in the currency named in the ``currency`` column; the swept values of each
    scenario (results of a ``[sweep]``) come first, one column per dotted key.
    """
    defs, _q, _s = _definitions(ds)
    swept = sweep_table(ds)
    cur = currency(ds)
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
                **{k: swept.at[s, k] for k in swept.columns},
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
                "currency": cur,
            }
        )
    cols = ["dPE", "dPE_se", "dPE_ci_low", "dPE_ci_high", "dN_mean", "dN_se", "dGD", "dGD_se", "extra_cost", "dPE_per_million", "currency"]
    return pd.DataFrame(rows, columns=["scenario", *swept.columns, *cols]).set_index("scenario")


# ---------------------------------------------------------------------------------------------
# the yearly table (Vortex-style output per year)


def _mean_sd_over(vals: np.ndarray, use: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and SD (ddof 1) over axis 1 (replicates) of the entries where *use* is True and the
    value finite; NaN where none (mean) or fewer than two (SD) entries count."""
    ok = use & np.isfinite(vals)
    count = ok.sum(axis=1)
    x = np.where(ok, vals, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, x.sum(axis=1) / np.maximum(count, 1), np.nan)
        dev = np.where(ok, (vals - np.expand_dims(mean, 1)) ** 2, 0.0)
        sd = np.where(count > 1, np.sqrt(dev.sum(axis=1) / np.maximum(count - 1, 1)), np.nan)
    return mean, sd


def _sd_all(vals: np.ndarray) -> np.ndarray:
    return vals.std(axis=1, ddof=1) if vals.shape[1] > 1 else np.full(vals.shape[:1] + vals.shape[2:], np.nan)


def timeseries(ds: xr.Dataset, *, by_population: bool = False) -> pd.DataFrame:
    """The yearly table, one row per scenario and year (Vortex's per-year output), in long
    format for spreadsheets; see docs/outputs.md for every column and its unit.

    Index ``(scenario, year)``; the year of the initial census comes first. Columns: the swept
    values (results of a ``[sweep]``), then ``replicates``, ``n_extant``, ``PE``, ``PE_se``,
    ``N_mean``, ``N_sd``, ``N_extant_mean``, ``N_extant_sd``, ``GD_mean``, ``GD_sd``,
    ``Ho_mean``, ``Ho_sd``, ``F_mean``, ``F_sd``, ``births_mean``, ``released_mean``,
    ``deaths_mean`` and ``deaths_<cause>_mean`` for every cause, ``cost_mean`` and
    ``currency``. Extinction follows each scenario's ``run.extinction``; ``PE`` is
    cumulative (extinct in any simulated year up to this one); the ``_extant`` and genetic
    columns are over the replicates extant in that year; births, releases, deaths and cost
    are means per replicate over all replicates.

    ``by_population=True``: index ``(scenario, population, year)`` and the same columns for
    each population on its own, except the genetic ones (measured over the whole
    metapopulation only) and the cost; a population counts as extinct by the scenario's rule
    applied to its own animals, and only after it has had animals (so a population founded
    later by releases is not extinct before it exists). Populations a scenario does not have
    (no animal in any replicate and year) have no rows.
    """
    defs, _q, _s = _definitions(ds)
    swept = sweep_table(ds)
    names = [str(s) for s in ds.scenario.values]
    years = np.asarray(ds.year.values)
    n_rep = ds.sizes["replicate"]
    causes = [str(c) for c in ds.cause.values]
    one_sex = np.array([defs.get(n, "one_sex") == "one_sex" for n in names])

    def flows(var: str, keep: tuple[str, ...]) -> np.ndarray:
        """Mean per replicate of a count variable, summed over what is not kept."""
        if var not in ds:
            return np.full((len(names), n_rep, years.size) + tuple(ds.sizes[d] for d in keep[3:]), np.nan)
        da = ds[var]
        return da.sum([d for d in da.dims if d not in keep]).transpose(*keep).values.astype(float)

    def block(N, extant, cum, births, released, deaths) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Columns (scenario, year) from (scenario, replicate, year[, cause]) arrays: the
        extinction and size columns, and the yearly flows."""
        ext_mean, ext_sd = _mean_sd_over(N, extant)
        pe = cum.mean(axis=1)
        cols = {
            "replicates": np.full(pe.shape, n_rep),
            "n_extant": extant.sum(axis=1),
            "PE": pe,
            "PE_se": np.sqrt(pe * (1 - pe) / n_rep),
            "N_mean": N.mean(axis=1),
            "N_sd": _sd_all(N),
            "N_extant_mean": ext_mean,
            "N_extant_sd": ext_sd,
        }
        return cols, {
            "births_mean": births.mean(axis=1),
            "released_mean": released.mean(axis=1),
            "deaths_mean": deaths.sum(axis=-1).mean(axis=1),
            **{f"deaths_{c}_mean": deaths[..., j].mean(axis=1) for j, c in enumerate(causes)},
        }

    def frame(cols: dict[str, np.ndarray], levels: list, names_: list[str]) -> pd.DataFrame:
        """Columns of shape (scenario[, population], year) → rows in that order; the index keeps
        the scenarios and populations in their order (and lexsorted, so .loc is fast)."""
        shape = tuple(len(lv) for lv in levels)
        codes = [c.ravel() for c in np.meshgrid(*[np.arange(n) for n in shape], indexing="ij")]
        index = pd.MultiIndex(levels=levels, codes=codes, names=names_)
        return pd.DataFrame({k: np.broadcast_to(v, shape).ravel() for k, v in cols.items()}, index=index)

    if not by_population:
        N = total_n(ds).values.astype(float)
        extant = ~extinct_mask(ds, defs).values
        cum = cumulative_extinct(ds, defs).values
        head, tail = block(
            N, extant, cum,
            flows("births", ("scenario", "replicate", "year")),
            flows("released", ("scenario", "replicate", "year")),
            flows("deaths", ("scenario", "replicate", "year", "cause")),
        )
        genetics = {}
        for var, col in (("gene_diversity", "GD"), ("heterozygosity", "Ho"), ("mean_inbreeding", "F")):
            vals = ds[var].transpose("scenario", "replicate", "year").values.astype(float) if var in ds else np.full(N.shape, np.nan)
            genetics[f"{col}_mean"], genetics[f"{col}_sd"] = _mean_sd_over(vals, extant)
        cost = flows("cost", ("scenario", "replicate", "year")).mean(axis=1)
        cols = {
            **{k: swept[k].to_numpy()[:, None] for k in swept.columns},
            **head,
            **genetics,
            **tail,
            "cost_mean": cost,
            "currency": np.full(cost.shape, currency(ds)),
        }
        return frame(cols, [names, years], ["scenario", "year"])

    # one population at a time: (scenario, replicate, year, population[, sex | cause])
    by_sex = ds["N"].sum("stage").transpose("scenario", "replicate", "year", "population", "sex").values.astype(float)
    N = by_sex.sum(axis=-1)
    fem, mal = by_sex[..., list(ds.sex.values).index("female")], by_sex[..., list(ds.sex.values).index("male")]
    gone = np.where(one_sex[:, None, None, None], (fem == 0) | (mal == 0), N == 0)
    extant = ~gone
    had = np.concatenate([np.zeros_like(extant[:, :, :1]), np.logical_or.accumulate(extant, axis=2)[:, :, :-1]], axis=2)
    cum = np.logical_or.accumulate(gone & had, axis=2)
    births = flows("births", ("scenario", "replicate", "year", "population"))
    released = flows("released", ("scenario", "replicate", "year", "population"))
    deaths = flows("deaths", ("scenario", "replicate", "year", "population", "cause"))
    pops = [str(p) for p in ds.population.values]
    blocks = [block(N[..., k], extant[..., k], cum[..., k], births[..., k], released[..., k], deaths[..., k, :]) for k in range(len(pops))]
    cols = {c: swept[c].to_numpy()[:, None, None] for c in swept.columns}
    for key in (*blocks[0][0], *blocks[0][1]):  # (scenario, year) per population → (scenario, population, year)
        cols[key] = np.stack([{**h, **t}[key] for h, t in blocks], axis=1)
    out = frame(cols, [names, pops, years], ["scenario", "population", "year"])
    present = N.sum(axis=(1, 2)) > 0  # (scenario, population): the scenario has animals there
    return out[np.repeat(present.ravel(), years.size)]
