"""The scenario schema: every parameter of a pardus run, with units and ranges.

A scenario file is TOML. Its tables map one-to-one onto the models below; unknown keys are
errors (with the nearest valid key suggested), values are checked against their ranges, and
cross-references (a release into a population that does not exist) are checked in
:mod:`pardus.scenario.checks` so that every problem is reported at once.
"""

from __future__ import annotations

from typing import get_args, Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, model_validator

Probability = Annotated[float, Field(ge=0.0, le=1.0)]
NonNeg = Annotated[float, Field(ge=0.0)]
PosInt = Annotated[int, Field(ge=1)]
NonNegInt = Annotated[int, Field(ge=0)]

STAGES = ("cub", "subadult", "adult")
SEXES = ("female", "male")
CAUSES = (
    "natural",
    "starvation",
    "poaching",
    "conflict",
    "road",
    "disease",
    "dispersal",
    "senescence",
    "inbreeding_lethal",
    "inbreeding_depression",
    "carrying_capacity",
)


class Strict(BaseModel):
    """Every table of a scenario: unknown keys are errors and types are not coerced
    (``years = true`` or ``carrying_capacity = "100"`` is an error, not 1 or 100)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class StageRates(Strict):
    """A rate per life stage: cub (first year), subadult (1 to adult age), adult."""

    cub: Probability
    subadult: Probability
    adult: Probability


class StageSD(Strict):
    cub: NonNeg = 0.0
    subadult: NonNeg = 0.0
    adult: NonNeg = 0.0


class Survival(Strict):
    female: StageRates
    male: StageRates
    basis: Literal["natural", "all_causes"] = Field(
        "natural",
        description="'natural': the rates are survival from natural causes only and the other"
        " causes come on top; 'all_causes': the rates are all-cause survival under the"
        " scenario's starting conditions (e.g. apparent survival from camera traps, which counts"
        " emigrants as dead) and pardus derives the natural part by dividing out poaching,"
        " conflict, roads, starvation and disease of the first year (dispersal deaths stay on"
        " top); a threat changed on top of such a baseline then moves deaths between causes, not"
        " survival — change threats through interventions instead.",
    )


class EnvironmentalVariation(Strict):
    survival_sd: StageSD = StageSD()
    breeding_sd: NonNeg = 0.0
    correlation: Annotated[float, Field(ge=-1.0, le=1.0)] = Field(
        0.0, description="correlation of the yearly breeding deviate with the survival deviate"
    )


class DensityDependence(Strict):
    enabled: bool = False
    p_breed_at_k: Probability = 0.0
    steepness_b: Annotated[float, Field(ge=1.0, le=16.0)] = 2.0
    allee_a: NonNeg = 0.0


class Demography(Strict):
    max_age: Annotated[int, Field(ge=2, le=60)]
    adult_age: Annotated[int, Field(ge=1, le=20)] = Field(
        2, description="age (years) from which the adult survival applies"
    )
    female_breeding_age: Annotated[int, Field(ge=1, le=30)]
    male_breeding_age: Annotated[int, Field(ge=1, le=30)]
    female_last_breeding_age: Annotated[int, Field(ge=1, le=60)] | None = None
    dependence_years: Annotated[int, Field(ge=1, le=5)] = Field(
        2,
        description="years a litter depends on its mother; she cannot breed while any cub of a"
        " litter younger than this is alive",
    )
    p_breed: Probability = Field(
        description="probability that an eligible female (adult, no dependent cubs, mate"
        " available) breeds in a year"
    )
    litter_size: list[Probability] = Field(
        description="probabilities of litters of 1, 2, 3 … cubs (must sum to 1)"
    )
    sex_ratio: Probability = Field(0.5, description="probability that a cub is male")
    male_breeding_pool: Probability = Field(
        1.0, description="share of adult males available as sires in a year"
    )
    avoid_kinship_above: Probability | None = Field(
        None, description="if set, a female avoids sires with kinship above this when she can"
    )
    survival: Survival
    environmental_variation: EnvironmentalVariation = EnvironmentalVariation()
    density_dependence: DensityDependence = DensityDependence()


class Genetics(Strict):
    neutral_loci: Annotated[int, Field(ge=1, le=500)] = 20
    lethal_equivalents: Annotated[float, Field(ge=0.0, le=30.0)] = 6.29
    lethal_share: Probability = 0.5
    fertility_b: NonNeg = Field(
        0.0, description="breeding probability is multiplied by exp(-fertility_b * F)"
    )
    founder_kinship: Annotated[float, Field(ge=0.0, lt=1.0)] = Field(
        0.0,
        description="mean kinship among the starting animals of a population (their F too);"
        " 0 = unrelated founders with unique alleles",
    )
    kinship: Literal["auto", "dense", "pedigree"] = Field(
        "auto",
        description="how kinship is kept (the values are the same): 'dense', a store of every"
        " living pair (fastest for small populations); 'pedigree', computed from the stored"
        " pedigree (memory grows with the animals ever born, for large populations); 'auto'"
        " picks dense while that store would fit in 1 GiB",
    )


class Poaching(Strict):
    hazard: StageRates = Field(description="annual poaching hazard at human_access = 1, no patrols")
    dogs: Probability = Field(0.0, description="extra hazard from hunting with dogs at access 1")
    patrol_max_effect: Probability = 0.8
    patrol_half_effort: Annotated[float, Field(gt=0.0)] = Field(
        1.0, description="patrol-days per km² per year at which the effect reaches half its max"
    )
    prey_patrol_max_effect: Probability = 0.6


class Conflict(Strict):
    hazard: Probability = 0.0
    gamma: Annotated[float, Field(gt=0.0, le=10.0)] = 1.0


class Road(Strict):
    hazard: StageRates = StageRates(cub=0.0, subadult=0.0, adult=0.0)


class Disease(Strict):
    probability: Probability = 0.0
    survival: Probability = Field(1.0, description="survival of an unprotected animal in an outbreak")
    breeding: Probability = Field(1.0, description="breeding multiplier in an outbreak year")
    vaccine_efficacy: Probability = 0.9


class Starvation(Strict):
    max_hazard: Probability = 0.0


class Threats(Strict):
    poaching: Poaching = Poaching(hazard=StageRates(cub=0.0, subadult=0.0, adult=0.0))
    conflict: Conflict = Conflict()
    road: Road = Road()
    disease: Disease = Disease()
    starvation: Starvation = Starvation()


class NeedByStage(Strict):
    """Yearly prey need of a subadult and of an adult, relative to an adult female's."""

    subadult: NonNeg = 1.0
    adult: NonNeg = 1.0


class PreyNeed(Strict):
    female: NeedByStage = NeedByStage()
    male: NeedByStage = NeedByStage()


class Prey(Strict):
    growth_rate: NonNeg = 0.0
    growth_sd: NonNeg = 0.0
    offtake: Probability = Field(0.0, description="share of prey hunted per year at access 1")
    kills_per_leopard: NonNeg = Field(
        0.0, description="prey eaten per year by an adult female (other sexes and stages: prey.need; cubs of the year eat within their mother's share)"
    )
    need: PreyNeed = Field(PreyNeed(), description="yearly prey need by sex and stage, relative to kills_per_leopard")
    required_density: NonNeg = Field(
        0.0, description="prey density (per km²) at and above which breeding and survival are unaffected"
    )
    breeding_exponent: NonNeg = 1.0


class Population(Strict):
    country: str = Field(
        "", description="the country (or other reporting unit) the population lies in; a census record may name it"
        " instead of the populations (default: the population's own name)"
    )
    region: str | None = Field(
        None, description="spatial form only: the region of the landscape's country layer the population lives in (default: the population's name; \"\": none, the population is off the map)"
    )
    initial_size: NonNegInt
    carrying_capacity: PosInt
    area_km2: Annotated[float, Field(gt=0.0)] = 1000.0
    initial_prey: NonNeg = 1.0
    prey_capacity: Annotated[float, Field(gt=0.0)] = 1.0
    human_access: Probability = 0.0
    deer_farm_exposure: Probability = 0.0
    road_exposure: Probability = 0.0
    patrol_effort: NonNeg = 0.0
    initial_sex_ratio: Probability = Field(0.5, description="share of males at the start")
    initial_age_distribution: Literal["stable"] | list[NonNeg] = Field(
        "stable",
        description="'stable' (the model's stable state: stable ages, dependent young with their"
        " mothers, drawn per replicate) or relative numbers of animals of age 1, 2, … at the start",
    )


class Dispersal(Strict):
    min_age: Annotated[int, Field(ge=0, le=30)] = 1
    max_age: Annotated[int, Field(ge=0, le=30)] = 3
    female: Probability = 0.0
    male: Probability = 0.0
    mortality: Probability = 0.0
    destinations: dict[str, dict[str, NonNeg]] = Field(
        default_factory=dict,
        description="source population → {destination population: relative weight}",
    )


class Captive(Strict):
    founders: Annotated[int, Field(ge=1, le=10000)] = 14
    gene_diversity: Probability = 0.91


class Run(Strict):
    start_year: int = 2015
    years: Annotated[int, Field(ge=1, le=1000)] = 100
    replicates: Annotated[int, Field(ge=1, le=1_000_000)] = 500
    extinction: Literal["one_sex", "no_animals"] = "one_sex"
    quasi_extinction: NonNegInt = 20
    currency: Annotated[str, Field(min_length=1, max_length=12)] = Field(
        "USD", description="currency of every cost in the scenario (unit_cost, fixed_cost) and in its results"
    )


AREA_HELP = (
    "spatial form only (a scenario with [landscape]): where on the map it acts, within its population's region —"
    " 'zone:core' (any region layer: 'zone:buffer', 'country:china'), 'ring:core:2' (a ring 2 cells wide around a"
    " zone), the path of a GeoJSON file (lines, polygons in the landscape's CRS) or of a GeoTIFF mask aligned with"
    " the landscape (non-zero = in); default: the whole region"
)


class _Intervention(Strict):
    start: int
    end: int | None = None
    unit_cost: NonNeg = Field(0.0, description="cost per unit used (the unit depends on the type)")
    fixed_cost: NonNeg = Field(0.0, description="one-off cost in the start year")
    note: str = ""
    area: str | None = Field(None, min_length=1, description=AREA_HELP)
    width: Annotated[int, Field(ge=1, le=50)] = Field(
        1, description="spatial form: cells wide that the lines of a GeoJSON area are drawn (areas and zones are as they are)"
    )


class AntiPoaching(_Intervention):
    type: Literal["anti_poaching"]
    population: str
    effort: NonNeg | None = Field(None, description="patrol-days per km² per year (replaces the baseline); give this or budget")
    budget: NonNeg | None = Field(
        None, description="money per year for patrols beyond the baseline: the effort it buys (budget / unit_cost / km²) is added evenly over the area; give this or effort"
    )


class PreyRecovery(_Intervention):
    type: Literal["prey_recovery"]
    population: str
    hunting_ban: Probability = 0.0
    capacity_factor: Annotated[float, Field(gt=0.0, le=10.0)] = 1.0
    feeding: NonNeg = Field(0.0, description="prey added per km² per year by supplemental feeding")


class ConflictMitigation(_Intervention):
    type: Literal["conflict_mitigation"]
    population: str
    reduction: Probability


class Vaccination(_Intervention):
    type: Literal["vaccination"]
    population: str
    coverage: Probability


class DogVaccination(_Intervention):
    """Distemper vaccination of village dogs, the reservoir (MODEL.md §4.9, §5): non-spatial, the
    outbreak probability falls by coverage × efficacy; on the map, the dogs' spill-over in its
    area does."""

    type: Literal["dog_vaccination"]
    population: str
    coverage: Probability


class Crossing(_Intervention):
    type: Literal["crossing"]
    population: str
    road_reduction: Probability = 0.0
    dispersal_mortality_reduction: Probability = 0.0


class HabitatChange(_Intervention):
    """Habitat loss or recovery (MODEL.md §4.1, non-spatial form): logging, farming, mining and
    repeated fire shrink the carrying capacity and the prey capacity of a population; a factor
    acts every year from ``start`` to ``end`` or, with ``yearly``, compounds (factor ** years
    since start + 1) — a steady rate of loss."""

    type: Literal["habitat_change"]
    population: str
    carrying_capacity_factor: Annotated[float, Field(gt=0.0, le=10.0)] = 1.0
    prey_capacity_factor: Annotated[float, Field(gt=0.0, le=10.0)] = 1.0
    human_access: Probability | None = Field(None, description="replaces the population's human_access (roads, settlements, logging access)")
    cover: str | None = Field(None, description="spatial form only: the area's cover becomes this class in the start year (e.g. 'agriculture', 'mine'; 'mixed_forest' for a planted corridor)")
    yearly: bool = Field(False, description="the factors compound every year since start (a rate of change), until end")


Site = Annotated[list[float], Field(min_length=2, max_length=2)]
SITE_HELP = (
    "spatial form only: [x, y] of the release site in the landscape's CRS (it must be land); default: the cell of"
    " acceptable cover nearest the centre of the area"
)


class Release(_Intervention):
    type: Literal["release"]
    population: str
    site: Site | None = Field(None, description=SITE_HELP)
    females: NonNegInt = 0
    males: NonNegInt = 0
    age: Annotated[int, Field(ge=0, le=30)] = 1
    every: Annotated[int, Field(ge=1)] | None = Field(
        None, description="repeat every this many years until end (default: once)"
    )


class Translocation(_Intervention):
    type: Literal["translocation"]
    source: str
    population: str
    site: Site | None = Field(None, description=SITE_HELP + " (animals are caught anywhere in the source population's region)")
    females: NonNegInt = 0
    males: NonNegInt = 0
    min_age: Annotated[int, Field(ge=0, le=30)] = 1
    max_age: Annotated[int, Field(ge=0, le=30)] = 3
    mortality: Probability = 0.0
    every: Annotated[int, Field(ge=1)] | None = None


class Firebreak(_Intervention):
    """Spatial form only: a firebreak (a cleared or ploughed strip) that stops fire spread
    across its cells (MODEL.md §4.2, §5); maintained every year from ``start`` to ``end``, after
    which it grows over and its strength falls by ``lapse`` a year."""

    type: Literal["firebreak"]
    population: str
    area: str = Field(min_length=1, description=AREA_HELP.replace("; default: the whole region", ""))
    width: Annotated[int, Field(ge=1, le=50)] = Field(2, description="cells wide its lines are drawn (2 stops the diagonal leak under 8 neighbours)")
    strength: Probability = Field(0.9, description="share of fire spread into and out of its cells that it stops while maintained")
    lapse: Probability = Field(0.3, description="share of its strength lost each year once no longer maintained (after end)")


class ProtectedArea(_Intervention):
    """Spatial form only: a protected-area upgrade from ``start`` (e.g. buffer zone to
    national-park core): no logging or clearing, fire suppression, fewer people (human access ×
    (1 − access_reduction)) and a ban on hunting in its cells."""

    type: Literal["protected_area"]
    population: str
    suppression: bool = Field(True, description="fires are fought in its cells (as in the park core)")
    access_reduction: Probability = Field(0.5, description="share of human access removed (closed roads, no logging)")
    hunting_ban: Probability = Field(1.0, description="share of human prey offtake stopped")


Intervention = Annotated[
    Union[
        AntiPoaching,
        PreyRecovery,
        ConflictMitigation,
        Vaccination,
        DogVaccination,
        Crossing,
        HabitatChange,
        Release,
        Translocation,
        Firebreak,
        ProtectedArea,
    ],
    Field(discriminator="type"),
]

# the type names, from the union above (the one list; pardus.processes.interventions has a class for each)
INTERVENTION_TYPES = tuple(m.model_fields["type"].annotation.__args__[0] for m in get_args(get_args(Intervention)[0]))


SPATIAL_TYPES = ("firebreak", "protected_area")  # intervention types that only exist on a map


class LandscapeSpec(Strict):
    """The spatial form of a scenario (MODEL.md §3–§4): its populations live on a map. Each
    population is the region of the same name of the landscape's ``country`` layer (a population
    the map has no region for stays empty); K comes from the territories the prey supports, not
    from ``carrying_capacity``. The process tables hold the parameters of the processes on the map
    (their names and values: ``pardus explain FILE``); a key they do not know is an error."""

    source: str = Field("default", min_length=1, description="'default' (the embedded schematic landscape of southwest Primorye) or the path of a folder of GeoTIFF layers (as `pardus landscape export` writes)")
    seed: NonNegInt = Field(2015, description="the seed the default landscape is generated from")
    neighbours: Literal[4, 8] = Field(8, description="cells a fire, a walk or a range grows to: 4 (rook) or 8 (queen)")
    start_radius_km: Annotated[float, Field(gt=0.0)] = Field(25.0, description="founders start within this distance of the park core")
    exposure_decay_km: Annotated[float, Field(gt=0.0)] = Field(3.0, description="deer-farm and road exposure fall off as exp(−distance / this)")
    fire: dict[str, Any] = Field(default_factory=dict, description="fire parameters (enabled = false: no fire)")
    succession: dict[str, Any] = Field(default_factory=dict, description="succession parameters (enabled = false: cover never changes)")
    prey: dict[str, Any] = Field(default_factory=dict, description="prey-per-cell parameters beyond [prey] (capacity_by_cover, patrol effect)")
    territories: dict[str, Any] = Field(default_factory=dict, description="home-range parameters (sizes in cells, prey taken, avoided cover)")
    dispersal: dict[str, Any] = Field(default_factory=dict, description="parameters of dispersal walks (resistance, road death, barriers, crossings)")
    disease: dict[str, Any] = Field(default_factory=dict, description="distemper spill-over from village dogs (enabled = false: no disease on the map)")
    monitoring: dict[str, Any] = Field(default_factory=dict, description="simulated camera-trap surveys with photo-ID errors and SECR estimates beside the true number (off unless this table is given; enabled = false switches a given table off)")

    @model_validator(mode="after")
    def _process_tables(self) -> "LandscapeSpec":
        from ..spatial import params_problems  # the processes' own parameter classes

        problems = params_problems(self)
        if problems:
            raise ValueError("; ".join(problems))
        return self


class Calibration(Strict):
    """What `pardus calibrate` may change: the scenario's uncertain parameters. Each prior is
    uniform over the range its source gives (``assumption (range LO–HI)``) unless the command
    line gives one (``--param KEY=LO:HI``)."""

    uncertain: list[str] = Field(default_factory=list, description="dotted keys of the parameters to calibrate")


class Scenario(Strict):
    name: str
    description: str = ""
    run: Run = Run()
    demography: Demography
    genetics: Genetics = Genetics()
    threats: Threats = Threats()
    prey: Prey = Prey()
    populations: dict[str, Population] = Field(min_length=1)
    dispersal: Dispersal = Dispersal()
    captive: Captive = Captive()
    interventions: dict[str, Intervention] = Field(default_factory=dict)
    calibration: Calibration = Calibration()
    landscape: LandscapeSpec | None = Field(None, description="the spatial form: the populations live on this map (absent: non-spatial)")

    def replace(self, overrides: dict, /) -> "Scenario":
        """A new scenario with dotted keys replaced, validated like a scenario file.

        ``sc.replace({"demography.survival.female.adult": 0.85, "run.years": 50})``; raises
        :class:`~pardus.scenario.ScenarioError` listing every problem.
        """
        from .loader import apply_overrides

        return apply_overrides(self, overrides)
