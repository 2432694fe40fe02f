"""Plain-language account of a resolved scenario: every parameter with where it came from and
its source, the derived quantities, and a year-by-year schedule of interventions."""

from __future__ import annotations

from typing import Any

from ..population.lifetable import life_table, natural_survival
from .loader import Resolved, _flatten
from .schema import Scenario

UNIT_NAMES = {
    "anti_poaching": "patrol-day",
    "prey_recovery": "km² per year",
    "conflict_mitigation": "year",
    "vaccination": "animal vaccinated",
    "crossing": "year",
    "dog_vaccination": "year",
    "habitat_change": "year",
    "release": "animal released",
    "translocation": "animal moved",
    "firebreak": "km maintained per year",
    "protected_area": "km² per year",
}


def parameter_rows(res: Resolved) -> list[tuple[str, Any, str, str]]:
    """(dotted key, value, set by, source) for every resolved parameter."""
    flat = _flatten(res.scenario.model_dump(mode="json"))
    spatial = _landscape_parameters(res)
    if spatial:  # the process tables as they run, in place of the tables as written
        flat = {k: v for k, v in flat.items() if not any(k == f"landscape.{t}" or k.startswith(f"landscape.{t}.") for t in LANDSCAPE_SECTIONS)}
        flat.update(spatial)
    rows = []
    for key, value in flat.items():
        set_by = res.origin.get(key, "default")
        source = res.sources.get(key, "")
        if not source:
            # a source given for a parent table covers its keys
            parts = key.split(".")
            for i in range(len(parts) - 1, 0, -1):
                source = res.sources.get(".".join(parts[:i]), "")
                if source:
                    break
        rows.append((key, value, set_by, source or ("schema default" if set_by == "default" else "—")))
    return rows


LANDSCAPE_SECTIONS = {"fire": "4.10", "succession": "4.11", "prey": "4.12", "territories": "4.13", "dispersal": "4.13", "disease": "4.15"}


def _landscape_parameters(res: Resolved) -> dict[str, Any]:
    """For a scenario on a map: every parameter of its process tables with the value it runs
    with (``landscape.fire.ignitions_per_weight`` …), in place of the tables as written; a
    parameter [prey] or [threats] gives is shown with where it comes from."""
    import dataclasses

    sc = res.scenario
    if sc.landscape is None:
        return {}
    from ..spatial import DERIVED, OFF_UNLESS_GIVEN, TABLES, spatial_params

    params = spatial_params(sc)
    out: dict[str, Any] = {}
    for table in TABLES:
        obj = getattr(params, table)
        out[f"landscape.{table}.enabled"] = obj is not None
        res.sources.setdefault(f"landscape.{table}.enabled",
                               "assumption: no simulated surveys unless the scenario gives [landscape.monitoring] (enabled = false then leaves them out)"
                               if table in OFF_UNLESS_GIVEN else "assumption: the process is part of the spatial model (false leaves it out)")
        if obj is None:
            continue
        for f in dataclasses.fields(obj):
            key = f"landscape.{table}.{f.name}"
            value = getattr(obj, f.name)
            out[key] = list(value) if isinstance(value, tuple) else value
            if f.name in DERIVED.get(table, {}):
                res.sources.setdefault(key, f"= {DERIVED[table][f.name]} (the scenario's own value)")
            else:
                res.sources.setdefault(key, type(obj).SOURCES[f.name])
    return out


def describe_intervention(label: str, iv, sc: Scenario) -> str:
    t = iv.type
    where = f"in {iv.population}" + (f" ({iv.area})" if iv.area else "")
    if t == "anti_poaching":
        effort = f"{iv.effort:g} patrol-days/km²/yr" if iv.effort is not None else f"the patrols a budget of {iv.budget:,.0f} a year buys"
        what = f"anti-poaching patrols '{label}' {where}: {effort}"
    elif t == "prey_recovery":
        bits = []
        if iv.hunting_ban:
            bits.append(f"hunting ban on {iv.hunting_ban:.0%} of prey offtake")
        if iv.capacity_factor != 1:
            bits.append(f"prey capacity × {iv.capacity_factor:g}")
        if iv.feeding:
            bits.append(f"feeding {iv.feeding:g} prey/km²/yr")
        what = f"prey recovery '{label}' {where}: {', '.join(bits) or 'no effect set'}"
    elif t == "conflict_mitigation":
        what = f"conflict mitigation '{label}' {where}: {iv.reduction:.0%} of deer-farm killings prevented"
    elif t == "vaccination":
        what = f"CDV vaccination '{label}' {where}: {iv.coverage:.0%} of leopards vaccinated (efficacy {sc.threats.disease.vaccine_efficacy:.0%})"
    elif t == "dog_vaccination":
        what = f"dog vaccination '{label}' {where}: {iv.coverage:.0%} of village dogs vaccinated against distemper"
    elif t == "crossing":
        what = (
            f"crossings '{label}' {where}: {iv.road_reduction:.0%} fewer road deaths,"
            f" {iv.dispersal_mortality_reduction:.0%} fewer dispersal deaths"
        )
    elif t == "habitat_change":
        bits = []
        each = " a year" if iv.yearly else ""
        if iv.carrying_capacity_factor != 1:
            bits.append(f"carrying capacity × {iv.carrying_capacity_factor:g}{each}")
        if iv.prey_capacity_factor != 1:
            bits.append(f"prey capacity × {iv.prey_capacity_factor:g}{each}")
        if iv.human_access is not None:
            bits.append(f"human access {iv.human_access:g}")
        if iv.cover is not None:
            bits.append(f"cover turned to {iv.cover}")
        what = f"habitat change '{label}' {where}: {', '.join(bits) or 'no effect set'}"
    elif t == "release":
        at = f" at [{iv.site[0]:g}, {iv.site[1]:g}]" if iv.site else ""
        what = f"release '{label}' {where}{at}: {iv.females} females + {iv.males} males aged {iv.age} from the captive population"
    elif t == "firebreak":
        until = f", maintained to {iv.end}, then losing {iv.lapse:.0%} of its strength a year" if iv.end is not None else ""
        what = f"firebreak '{label}' {where}: {iv.width} cells wide, stops {iv.strength:.0%} of fire spread{until}"
    elif t == "protected_area":
        bits = [b for b, on in (("fire suppression", iv.suppression), (f"human access − {iv.access_reduction:.0%}", iv.access_reduction), (f"hunting ban {iv.hunting_ban:.0%}", iv.hunting_ban)) if on]
        what = f"protected area '{label}' {where}: {', '.join(bits) or 'no effect set'}"
    else:
        what = (
            f"translocation '{label}' from {iv.source} to {iv.population}: {iv.females} females + {iv.males} males"
            f" aged {iv.min_age}–{iv.max_age}, transport mortality {iv.mortality:.0%}"
        )
    cost = []
    if iv.unit_cost:
        cost.append(f"{iv.unit_cost:,.0f} per {UNIT_NAMES[t]}")
    if iv.fixed_cost:
        cost.append(f"{iv.fixed_cost:,.0f} once")
    return what + (f" (cost {', '.join(cost)})" if cost else "")


def schedule_lines(sc: Scenario) -> list[str]:
    """Year-by-year: what starts, repeats and ends."""
    first, last = sc.run.start_year + 1, sc.run.start_year + sc.run.years
    events: dict[int, list[str]] = {}
    for label, iv in sc.interventions.items():
        start = max(iv.start, first)
        end = min(iv.end if iv.end is not None else last, last)
        text = describe_intervention(label, iv, sc)
        if end < start:
            continue  # active only outside the simulated years
        if iv.type in ("release", "translocation"):
            years = [iv.start] if iv.every is None else list(range(iv.start, end + 1, iv.every))
            years = [y for y in years if first <= y <= end]
            for y in years:
                events.setdefault(y, []).append(text)
            continue
        since = f" (in place since {iv.start})" if iv.start < first else ""
        events.setdefault(start, []).append(f"starts: {text}{since}")
        if iv.end is not None and iv.end < last:
            events.setdefault(iv.end + 1, []).append(f"ends: '{label}' (last active year {iv.end})")
    out = []
    for y in sorted(events):
        for line in events[y]:
            out.append(f"{y}: {line}")
    if not out:
        out.append(f"{first}–{last}: no interventions beyond the baseline conditions")
    return out


def prey_ceilings(sc: Scenario) -> list[tuple[str, float, float, float | None]]:
    """Per population with prey: (name, the most adult-female equivalents its prey production
    can feed, the prey density at which it does, how many it feeds with prey held at the
    required density — None when that density is not sustainable), from the logistic prey model
    under the baseline conditions (human offtake reduced by the baseline patrols, no hunting
    ban): the largest sustainable predation is area · K (r − h)² / (4 r) at prey K (r − h)/(2 r)."""
    p = sc.prey
    po = sc.threats.poaching
    out = []
    for name, pop in sc.populations.items():
        e = pop.patrol_effort
        h = p.offtake * pop.human_access * (1.0 - po.prey_patrol_max_effect * e / (e + po.patrol_half_effort)) if e + po.patrol_half_effort > 0 else 0.0
        r, K = p.growth_rate, pop.prey_capacity
        if p.kills_per_leopard <= 0:
            continue  # leopards do not eat prey in this scenario: no ceiling from prey
        if r <= h:
            out.append((name, 0.0, 0.0, None))
            continue
        most = pop.area_km2 * K * (r - h) ** 2 / (4.0 * r) / p.kills_per_leopard
        at = K * (r - h) / (2.0 * r)
        need = p.required_density
        kept = None
        if 0.0 < need < K:
            surplus = r * need * (1.0 - need / K) - h * need
            kept = pop.area_km2 * surplus / p.kills_per_leopard if surplus > 0 else None
        out.append((name, most, at, kept))
    return out


def derived_lines(sc: Scenario) -> list[str]:
    lt = life_table(sc)
    nat = natural_survival(sc)
    lines = [
        f"deterministic growth (life table, no stochasticity): λ = {lt.lam:.4f}, r = {lt.r:.4f},"
        f" R0 = {lt.R0:.3f}, generation time = {lt.generation_time:.2f} years",
    ]
    for name, most, at, kept in prey_ceilings(sc):
        pop = sc.populations[name]
        held = f"; with prey held at the required {sc.prey.required_density:g}/km², {kept:.0f}" if kept is not None else ""
        lines.append(
            f"prey of {name} (logistic, baseline hunting): its production feeds at most {most:.0f} adult-female equivalents"
            f" (prey then at {at:.2g}/km²){held}; carrying capacity {pop.carrying_capacity}"
        )
    if sc.demography.survival.basis == "all_causes":
        for i, sex in enumerate(("female", "male")):
            lines.append(
                f"natural survival derived for {sex}s (all-cause ÷ human causes at the start):"
                f" cub {nat[i, 0]:.3f}, subadult {nat[i, 1]:.3f}, adult {nat[i, 2]:.3f}"
            )
    return lines
