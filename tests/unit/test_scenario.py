"""Unit tests of scenario files: loader (extends, overrides, sweeps, provenance), the checks
(every problem at once, one line each, impossible combinations, warnings), `explain`
(parameters with origin and source, derived values, schedule) and the shipped presets' sources.

Everything goes through the public loader API (``resolve_scenarios`` / ``resolve_scenario`` /
``scenario_from_dict``) on small TOML files written to ``tmp_path``; nothing is simulated.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from pardus.population.lifetable import life_table
from pardus.scenario import (
    ScenarioError,
    list_presets,
    resolve_scenario,
    resolve_scenarios,
    scenario_from_dict,
)
from pardus.scenario.explain import derived_lines, parameter_rows, schedule_lines
from pardus.scenario.loader import _flatten

VORTEX = "preset:nonspatial-vortex"
AMUR = "preset:amur-2015-nonspatial"
#: amur-2015-nonspatial with the observed all-cause survival of 2014-15 given (basis = "all_causes")
OBSERVED = Path(__file__).resolve().parents[2] / "examples" / "amur-2015-observed-survival.toml"

#: a problem line: ``file: dotted.key = value — rule`` (``= value`` is left out where the
#: problem is a missing value or a whole table). The file is a path or ``preset:NAME``.
PROBLEM = re.compile(r"^(?P<file>\S+\.toml|preset:[\w-]+): (?P<key>[A-Za-z_][\w.\-]*)(?: = (?P<value>.+?))? — (?P<rule>\S.*)$")

#: what counts as a citation of a source (besides the word "assumption")
CITATION = re.compile(r"MODEL\.md|et al\.|\b(19|20)\d\d\b|Vortex|O'Grady", re.IGNORECASE)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def is_label_of(label: str, path: Path) -> bool:
    """Whether a file label in a message or in Resolved.origin names ``path`` (as given,
    absolute, or relative to the working directory)."""
    if not label or label.startswith("preset:"):
        return False
    given = Path(label)
    return (given if given.is_absolute() else Path.cwd() / given).resolve() == Path(path).resolve()


def label_in(line: str) -> str:
    """The file label at the start of a problem line (``label: …``)."""
    return line.split(": ", 1)[0]


def problems_of(path) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        resolve_scenarios(path)
    problems = info.value.problems
    assert problems, "ScenarioError without problems"
    return problems


def one_line_matching(problems: list[str], pattern: str) -> str:
    hits = [p for p in problems if re.search(pattern, p)]
    assert len(hits) == 1, f"expected exactly one problem matching {pattern!r}, got {hits!r} in {problems!r}"
    return hits[0]


def source_of(res, key: str) -> str:
    """The [sources] entry for a key or, failing that, for its nearest parent table."""
    parts = key.split(".")
    for i in range(len(parts), 0, -1):
        src = res.sources.get(".".join(parts[:i]))
        if src:
            return src
    return ""


def rows_by_key(res) -> dict[str, tuple]:
    return {key: (value, set_by, source) for key, value, set_by, source in parameter_rows(res)}


# --------------------------------------------------------------------------- presets


def test_shipped_presets_are_listed_and_load_without_warnings():
    presets = list_presets()
    assert {"amur-2015", "amur-history", "amur-2015-nonspatial", "amur-history-nonspatial", "nonspatial-vortex"} <= set(presets)
    for name in presets:
        res = resolve_scenario(name)
        assert res.scenario.name == name
        assert res.path == f"preset:{name}"
        assert res.warnings == [], f"preset {name} is suspicious: {res.warnings}"


@pytest.mark.parametrize("preset", list_presets())
def test_every_value_a_preset_sets_has_a_citation_or_assumption(preset):
    """Every leaf key the preset file sets (Resolved.raw) has a [sources] entry that cites a
    source or says 'assumption' (name/description are labels, not parameters)."""
    res = resolve_scenario(preset)
    bad = {}
    for key in _flatten(res.raw):
        if key in ("name", "description") or key.startswith(("interventions", "calibration")) or key.endswith(".country"):
            continue
        src = source_of(res, key)
        if not src.strip() or not ("assumption" in src.lower() or CITATION.search(src)):
            bad[key] = src
    assert not bad, f"{preset}: keys without a citation or 'assumption': {bad}"


@pytest.mark.parametrize("preset", list_presets())
def test_every_resolved_default_parameter_of_a_preset_has_a_source(preset):
    """Every leaf of the *resolved* scenario (after schema defaults fill what the preset leaves
    out), except interventions, has a [sources] entry (for the key or a parent table) with a
    citation or the word 'assumption'; otherwise `pardus explain` can only say 'schema default'."""
    res = resolve_scenario(preset)
    flat = _flatten(res.scenario.model_dump(mode="json"))
    missing = {}
    for key in flat:
        # name, description and the currency label costs are given in are not model parameters
        # nor are a population's country (a reporting label) and the list of what calibration may change
        if key in ("name", "description", "run.currency") or key.split(".")[0] in ("interventions", "calibration") or key.endswith(".country"):
            continue
        if key == "landscape" and flat[key] is None:  # no [landscape]: the non-spatial form, no parameter
            continue
        if key.endswith(".region") and flat[key] is None:  # where a population lies on a map: a placement, unused without [landscape]
            continue
        src = source_of(res, key)
        if not ("assumption" in src.lower() or CITATION.search(src)):
            missing[key] = src
    assert not missing, f"{preset}: {len(missing)} resolved parameters without a source: {sorted(missing)}"


@pytest.mark.parametrize("preset", list_presets())
def test_preset_sources_name_real_parameters(preset):
    res = resolve_scenario(preset)
    flat = _flatten(res.scenario.model_dump(mode="json"))
    for key in res.sources:
        assert key in flat or any(k.startswith(key + ".") for k in flat), f"{preset}: sources.{key} names no parameter"


# --------------------------------------------------------------------------- loader


def test_extends_preset_merges_tables_key_by_key_and_records_origin(tmp_path):
    path = write(
        tmp_path,
        "child.toml",
        """
        extends = "nonspatial-vortex"
        name = "child"
        [run]
        years = 10
        [demography]
        litter_size = [0.5, 0.5]
        [demography.survival.female]
        cub = 0.55
        """,
    )
    res = resolve_scenario(path)
    sc = res.scenario
    assert sc.name == "child"
    assert sc.run.years == 10
    assert sc.run.start_year == 0  # from the preset, not lost by overriding [run]
    assert sc.demography.survival.female.cub == 0.55
    assert sc.demography.survival.female.adult == 0.85  # sibling keys of the override kept
    assert sc.demography.survival.male.cub == 0.60
    assert sc.demography.litter_size == [0.5, 0.5]  # lists replace, they do not merge
    assert sc.populations["main"].initial_size == 50
    assert is_label_of(res.origin["run.years"], path)
    assert is_label_of(res.origin["demography.survival.female.cub"], path)
    assert res.origin["run.start_year"] == VORTEX
    assert res.origin["demography.survival.female.adult"] == VORTEX
    assert is_label_of(res.path, path)


def test_extends_a_file_relative_to_the_extending_file(tmp_path, monkeypatch):
    write(tmp_path, "base/base.toml", 'extends = "nonspatial-vortex"\nname = "base"\n[run]\nyears = 12\n')
    child = write(tmp_path, "scenarios/deep/child.toml", 'extends = "../../base/base.toml"\nname = "child"\n[run]\nreplicates = 200\n')
    monkeypatch.chdir(tmp_path / "scenarios")  # cwd must not matter for `extends`
    res = resolve_scenario(child)
    assert (res.scenario.run.years, res.scenario.run.replicates) == (12, 200)
    assert is_label_of(res.origin["run.years"], tmp_path / "base/base.toml")
    assert is_label_of(res.origin["run.replicates"], child)
    assert res.origin["demography.max_age"] == VORTEX


def test_file_without_a_name_still_gets_one(tmp_path):
    path = write(tmp_path, "my-scenario.toml", 'extends = "nonspatial-vortex"\n')
    # the preset's name is inherited unless the file sets its own (or the file stem is used):
    # either is a valid label, but it must be a non-empty string
    assert resolve_scenario(path).scenario.name in ("nonspatial-vortex", "my-scenario")


def test_sweep_gives_one_scenario_per_value(tmp_path):
    path = write(
        tmp_path,
        "sweep.toml",
        """
        extends = "nonspatial-vortex"
        name = "sw"
        [run]
        years = 10
        [sweep]
        "demography.p_breed" = [0.5, 0.7]
        """,
    )
    found = resolve_scenarios(path)
    assert [r.scenario.demography.p_breed for r in found] == [0.5, 0.7]
    names = [r.scenario.name for r in found]
    assert len(set(names)) == 2
    assert all(n.startswith("sw") for n in names)
    assert "p_breed=0.5" in names[0] and "p_breed=0.7" in names[1]
    assert all(r.scenario.run.years == 10 for r in found)
    with pytest.raises(ScenarioError, match=r"\[sweep\] of 2 scenarios"):
        resolve_scenario(path)


def test_sweep_over_two_keys_gives_every_combination(tmp_path):
    path = write(
        tmp_path,
        "sweep2.toml",
        """
        extends = "nonspatial-vortex"
        name = "grid"
        [sweep]
        "demography.p_breed" = [0.5, 0.7]
        "populations.main.carrying_capacity" = [50, 100, 150]
        """,
    )
    found = resolve_scenarios(path)
    combos = {(r.scenario.demography.p_breed, r.scenario.populations["main"].carrying_capacity) for r in found}
    assert combos == {(p, k) for p in (0.5, 0.7) for k in (50, 100, 150)}
    assert len({r.scenario.name for r in found}) == 6


def test_sweep_value_that_is_not_a_list_is_an_error(tmp_path):
    path = write(tmp_path, "sw.toml", 'extends = "nonspatial-vortex"\n[sweep]\n"run.years" = 5\n')
    with pytest.raises(ScenarioError, match=r"sw\.toml: sweep\.run\.years = 5 — must be a non-empty list"):
        resolve_scenarios(path)


def test_out_of_range_sweep_value_is_blamed_on_the_sweep_file(tmp_path):
    """The bad value 1.7 comes from the file's [sweep]; the message must name that file, not
    the preset that set the key's default."""
    path = write(
        tmp_path,
        "swr.toml",
        """
        extends = "nonspatial-vortex"
        name = "swr"
        [sweep]
        "demography.p_breed" = [0.5, 1.7]
        """,
    )
    problems = problems_of(path)
    line = one_line_matching(problems, r"p_breed")
    assert "1.7" in line
    assert is_label_of(label_in(line), path), f"blamed on the wrong file: {line!r}"


def test_scenario_from_dict_validates_and_reports_every_problem():
    data = resolve_scenario("nonspatial-vortex").raw
    sc = scenario_from_dict(data)
    assert sc.name == "nonspatial-vortex"
    bad = {**data, "demography": {**data["demography"], "p_breed": 1.5, "max_age": 2}}
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(bad, label="mine")
    text = "\n".join(info.value.problems)
    assert "mine: demography.p_breed = 1.5" in text
    assert "female_breeding_age = 3 — above demography.max_age = 2" in text


# --------------------------------------------------------------------------- errors, one at a time


def test_missing_file(tmp_path):
    with pytest.raises(ScenarioError, match=r"nope\.toml: no such scenario file"):
        resolve_scenarios(tmp_path / "nope.toml")


def test_invalid_toml_names_file_and_line(tmp_path):
    path = write(tmp_path, "broken.toml", 'name = "x"\n[run]\nyears = = 3\n')
    problems = problems_of(path)
    assert len(problems) == 1
    assert re.search(r": not valid TOML — .*line 3", problems[0]), problems
    assert is_label_of(label_in(problems[0]), path), problems


def test_file_that_is_not_utf8_text(tmp_path):
    path = tmp_path / "binary.toml"
    path.write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(ScenarioError, match=r"binary\.toml: cannot be read as a UTF-8 text file"):
        resolve_scenarios(path)


def test_unknown_preset_suggests_the_nearest():
    with pytest.raises(ScenarioError, match=r"unknown preset 'nonspatial-vortx' — .*did you mean 'nonspatial-vortex'\?"):
        resolve_scenarios("nonspatial-vortx")


@pytest.mark.parametrize(
    "extends, rule",
    [("nonspatial-vortx", r"unknown preset .*did you mean 'nonspatial-vortex'"), ("gone/base.toml", r"no such scenario file")],
)
def test_bad_extends_names_the_extending_file_and_key(tmp_path, extends, rule):
    """`file: extends = value — rule`: the user must be told which file holds the bad `extends`."""
    path = write(tmp_path, "child.toml", f'extends = "{extends}"\nname = "c"\n')
    problems = problems_of(path)
    assert len(problems) == 1
    line = problems[0]
    assert re.search(rule, line), line
    named = is_label_of(label_in(line), path) and line.split(": ", 1)[1].startswith(f'extends = "{extends}" — ')
    assert named, f"does not name the file and key ('{path.name}: extends = \"{extends}\" — …'): {line!r}"


def test_extends_must_be_a_string(tmp_path):
    path = write(tmp_path, "e.toml", "extends = 3\n")
    with pytest.raises(ScenarioError, match=r"e\.toml: extends = 3 — must be a preset name or a file path"):
        resolve_scenarios(path)


def test_extends_itself(tmp_path):
    path = write(tmp_path, "self.toml", 'extends = "self.toml"\n')
    with pytest.raises(ScenarioError, match=r"self\.toml: extends itself through .*self\.toml → .*self\.toml — break the cycle"):
        resolve_scenarios(path)


def test_extends_cycle_through_two_files(tmp_path):
    write(tmp_path, "a.toml", 'extends = "b.toml"\nname = "a"\n')
    write(tmp_path, "b.toml", 'extends = "a.toml"\nname = "b"\n')
    with pytest.raises(ScenarioError, match=r"a\.toml: extends itself through .*a\.toml → .*b\.toml → .*a\.toml"):
        resolve_scenarios(tmp_path / "a.toml")


@pytest.mark.parametrize(
    "body, expected",
    [
        ("[run]\nreplicats = 5\n", r": run\.replicats = 5 — unknown key; did you mean 'run\.replicates'\?"),
        ("[demography.survival.female]\nadlt = 0.9\n", r": demography\.survival\.female\.adlt = 0\.9 — unknown key; did you mean 'demography\.survival\.female\.adult'\?"),
        ("[populations.main]\ncarying_capacity = 80\n", r": populations\.main\.carying_capacity = 80 — unknown key; did you mean 'populations\.main\.carrying_capacity'\?"),
        ("[demografy]\nmax_age = 15\n", r": demografy = \{…\} — unknown key; did you mean 'demography'\?"),
        (
            '[interventions.rel]\ntype = "release"\npopulation = "main"\nstart = 3\nfemals = 2\n',
            r": interventions\.rel\.femals = 2 — unknown key; did you mean 'interventions\.rel\.females'\?",
        ),
    ],
)
def test_typo_suggests_the_nearest_valid_key(tmp_path, body, expected):
    path = write(tmp_path, "typo.toml", 'extends = "nonspatial-vortex"\nname = "t"\n' + body)
    problems = problems_of(path)
    line = one_line_matching(problems, expected)
    assert is_label_of(label_in(line), path), line
    assert PROBLEM.match(line), line


def test_probability_out_of_range(tmp_path):
    path = write(tmp_path, "p.toml", 'extends = "nonspatial-vortex"\n[demography]\np_breed = 1.5\n')
    with pytest.raises(ScenarioError, match=r"p\.toml: demography\.p_breed = 1\.5 — .*(1|probability)"):
        resolve_scenarios(path)


def test_wrong_type(tmp_path):
    path = write(tmp_path, "t.toml", 'extends = "nonspatial-vortex"\n[run]\nyears = "ten"\n')
    with pytest.raises(ScenarioError, match=r't\.toml: run\.years = "ten" — must be a whole number .*, not text'):
        resolve_scenarios(path)


@pytest.mark.parametrize(
    "table, line, message",
    [
        ("run", "years = true", r'run\.years = true — must be a whole number \(no quotes, no decimal point\), not a boolean'),
        ("run", "replicates = 20.0", r"run\.replicates = 20\.0 — must be a whole number .*, not a decimal number"),
        ("populations.main", "initial_size = true", r"populations\.main\.initial_size = true — must be a whole number .*, not a boolean"),
        ("populations.main", 'carrying_capacity = "100"', r'populations\.main\.carrying_capacity = "100" — must be a whole number .*, not text'),
        ("demography", 'p_breed = "0.5"', r'demography\.p_breed = "0\.5" — must be a number \(no quotes\), not text'),
        ("demography", "p_breed = true", r"demography\.p_breed = true — must be a number \(no quotes\), not a boolean"),
        ("genetics", "lethal_equivalents = [6.29]", r"genetics\.lethal_equivalents = \[6\.29\] — must be a number .*, not a list"),
        ("demography.density_dependence", "enabled = 1", r"demography\.density_dependence\.enabled = 1 — must be true or false, not a whole number"),
        ("run", "currency = 978", r"run\.currency = 978 — must be text in quotes, not a whole number"),
    ],
)
def test_values_of_the_wrong_type_are_errors_not_coerced(tmp_path, table, line, message):
    """Strict types: `years = true` is not a 1-year run, `carrying_capacity = "100"` is not 100."""
    path = write(tmp_path, "t.toml", f'extends = "nonspatial-vortex"\n[{table}]\n{line}\n')
    with pytest.raises(ScenarioError, match=r"t\.toml: " + message):
        resolve_scenarios(path)


def test_missing_required_value(tmp_path):
    path = write(
        tmp_path,
        "m.toml",
        """
        extends = "nonspatial-vortex"
        [populations.second]
        initial_size = 10
        """,
    )
    with pytest.raises(ScenarioError, match=r"m\.toml: populations\.second\.carrying_capacity — required value is missing"):
        resolve_scenarios(path)


def test_breeding_age_above_max_age(tmp_path):
    path = write(tmp_path, "b.toml", 'extends = "nonspatial-vortex"\n[demography]\nmax_age = 10\nmale_breeding_age = 12\n')
    with pytest.raises(ScenarioError, match=r"b\.toml: demography\.male_breeding_age = 12 — above demography\.max_age = 10"):
        resolve_scenarios(path)


def test_breeding_age_above_max_age_blames_the_file_that_set_it(tmp_path):
    # the preset sets female_breeding_age = 3; the child lowers max_age below it
    path = write(tmp_path, "b.toml", 'extends = "nonspatial-vortex"\n[demography]\nmax_age = 2\n')
    problems = problems_of(path)
    line = one_line_matching(problems, r"female_breeding_age = 3 — above demography\.max_age = 2")
    assert PROBLEM.match(line), line


def test_litter_sizes_must_sum_to_one(tmp_path):
    path = write(tmp_path, "l.toml", 'extends = "nonspatial-vortex"\n[demography]\nlitter_size = [0.5, 0.4]\n')
    with pytest.raises(ScenarioError, match=r"l\.toml: demography\.litter_size = \[0\.5, 0\.4\] — .*must sum to 1 \(they sum to 0\.9\)"):
        resolve_scenarios(path)


def test_release_into_a_population_that_does_not_exist(tmp_path):
    path = write(
        tmp_path,
        "r.toml",
        """
        extends = "nonspatial-vortex"
        [interventions.rel]
        type = "release"
        population = "mian"
        start = 5
        females = 2
        """,
    )
    with pytest.raises(ScenarioError, match=r'r\.toml: interventions\.rel\.population = "mian" — no population of that name — populations are: main; did you mean \'main\'\?'):
        resolve_scenarios(path)


def test_translocation_from_and_to_populations_that_do_not_exist(tmp_path):
    path = write(
        tmp_path,
        "t.toml",
        """
        extends = "amur-2015-nonspatial"
        [interventions.move]
        type = "translocation"
        source = "rusia"
        population = "lazovskiy"
        start = 2020
        females = 2
        """,
    )
    problems = problems_of(path)
    one_line_matching(problems, r'interventions\.move\.source = "rusia" — no population of that name .*did you mean \'russia\'')
    one_line_matching(problems, r'interventions\.move\.population = "lazovskiy" — no population of that name .*did you mean \'lazovsky\'')


def test_dispersal_to_and_from_unknown_populations(tmp_path):
    path = write(
        tmp_path,
        "d.toml",
        """
        extends = "amur-2015-nonspatial"
        [dispersal]
        destinations = { russia = { chian = 1.0 }, korea = { russia = 1.0 } }
        """,
    )
    problems = problems_of(path)
    one_line_matching(problems, r"dispersal\.destinations\.russia\.chian — no population of that name.*did you mean 'china'")
    one_line_matching(problems, r"dispersal\.destinations\.korea — no population of that name")


def test_intervention_end_before_start(tmp_path):
    path = write(
        tmp_path,
        "e.toml",
        """
        extends = "amur-2015-nonspatial"
        [interventions.p]
        type = "anti_poaching"
        population = "russia"
        start = 2030
        end = 2025
        effort = 2.0
        """,
    )
    with pytest.raises(ScenarioError, match=r"e\.toml: interventions\.p\.end = 2025 — before start = 2030"):
        resolve_scenarios(path)


def test_unknown_intervention_type_suggests_the_nearest(tmp_path):
    path = write(
        tmp_path,
        "i.toml",
        """
        extends = "amur-2015-nonspatial"
        [interventions.p]
        type = "anti_poachng"
        population = "russia"
        start = 2020
        """,
    )
    with pytest.raises(ScenarioError, match=r'i\.toml: interventions\.p\.type = "anti_poachng" — must be one of .*release.*did you mean \'anti_poaching\'\?'):
        resolve_scenarios(path)


def test_intervention_starting_after_the_last_year_is_rejected(tmp_path):
    path = write(
        tmp_path,
        "late.toml",
        """
        extends = "nonspatial-vortex"
        [run]
        years = 10
        [interventions.v]
        type = "release"
        population = "main"
        start = 11
        females = 1
        """,
    )
    with pytest.raises(ScenarioError, match=r"late\.toml: interventions\.v\.start = 11 — after the last simulated year 10; it would never act"):
        resolve_scenarios(path)
    # the last simulated year itself is fine
    path.write_text(path.read_text().replace("start = 11", "start = 10"))
    assert resolve_scenario(path).scenario.interventions["v"].start == 10


def test_problem_in_an_extended_file_is_blamed_on_that_file(tmp_path):
    base = write(tmp_path, "base.toml", 'extends = "nonspatial-vortex"\n[demography]\nlitter_size = [0.5, 0.6]\n')
    child = write(tmp_path, "child.toml", 'extends = "base.toml"\nname = "child"\n')
    problems = problems_of(child)
    line = one_line_matching(problems, r"litter_size")
    assert is_label_of(label_in(line), base), line


def test_every_problem_is_reported_at_once_one_line_each(tmp_path):
    path = write(
        tmp_path,
        "many.toml",
        """
        extends = "nonspatial-vortex"
        name = "many"
        [run]
        years = 10
        replicats = 5
        [demography]
        female_breeding_age = 20
        litter_size = [0.5, 0.4]
        p_breed = 1.5
        [demography.survival.female]
        adlt = 0.9
        [dispersal]
        destinations = { main = { nowhere = 1.0 } }
        [interventions.rel]
        type = "release"
        population = "mian"
        start = 5
        end = 3
        females = 2
        [interventions.x]
        type = "anti_poachng"
        population = "main"
        start = 2
        [interventions.late]
        type = "vaccination"
        population = "main"
        start = 50
        coverage = 0.5
        """,
    )
    problems = problems_of(path)
    expected = [
        r"run\.replicats = 5 — unknown key; did you mean 'run\.replicates'",
        r"demography\.female_breeding_age = 20 — above demography\.max_age = 15",
        r"demography\.litter_size = .* must sum to 1",
        r"demography\.p_breed = 1\.5 — ",
        r"demography\.survival\.female\.adlt = 0\.9 — unknown key",
        r"dispersal\.destinations\.main\.nowhere — no population",
        r"interventions\.rel\.population = \"mian\" — no population.*did you mean 'main'",
        r"interventions\.rel\.end = 3 — before start = 5",
        r"interventions\.x\.type = \"anti_poachng\" — .*did you mean 'anti_poaching'",
        r"interventions\.late\.start = 50 — after the last simulated year 10",
    ]
    for pattern in expected:
        one_line_matching(problems, pattern)
    assert len(problems) == len(expected), "\n".join(problems)
    for line in problems:
        assert "\n" not in line
        m = PROBLEM.match(line)
        assert m, f"not 'file: key = value — rule': {line!r}"
        assert is_label_of(m.group("file"), path), line


def test_problems_of_several_sweep_members_are_not_repeated(tmp_path):
    path = write(
        tmp_path,
        "sw.toml",
        """
        extends = "nonspatial-vortex"
        [demography]
        litter_size = [0.5, 0.4]
        [sweep]
        "demography.p_breed" = [0.5, 0.6, 0.7]
        """,
    )
    problems = problems_of(path)
    one_line_matching(problems, r"litter_size")  # once, not once per sweep member


# --------------------------------------------------------------------------- warnings


def test_suspicious_values_are_warnings_not_errors(tmp_path):
    path = write(
        tmp_path,
        "w.toml",
        """
        extends = "amur-2015-nonspatial"
        [run]
        replicates = 50
        [demography.survival]
        female = { adult = 0.45 }
        [interventions.early]
        type = "anti_poaching"
        population = "russia"
        start = 2010
        effort = 2.0
        [sources]
        "demography.survival.female.adlt" = "assumption"
        """,
    )
    res = resolve_scenario(path)  # loads: warnings do not stop a run
    assert res.scenario.demography.survival.female.adult == 0.45
    w = "\n".join(res.warnings)
    for text in (
        ": run.replicates = 50 — fewer than 100 replicates",
        ": demography.survival.female.adult = 0.45 — adult survival below 0.5",
        ": interventions.early.start = 2010 — before the first simulated year 2016",
        ": sources.demography.survival.female.adlt — names no parameter",
    ):
        line = one_line_matching(res.warnings, re.escape(text))
        assert is_label_of(label_in(line), path), line
    assert len(res.warnings) == 4, w


def test_a_threat_changed_under_all_cause_survival_is_flagged_with_the_way_out(tmp_path):
    """Under basis = "all_causes" the given survival absorbs a changed threat hazard (the
    natural part is derived again): a warning names the key, the file that set the survival and
    what to do instead; the same file setting its own survival and threats is a definition,
    not a change, and is not flagged."""
    path = write(
        tmp_path,
        "poach.toml",
        f"""
        extends = "{OBSERVED}"
        [threats.poaching.hazard]
        adult = 0.05
        """,
    )
    res = resolve_scenario(path)
    line = one_line_matching(res.warnings, re.escape("threats.poaching.hazard.adult = 0.05 — demography.survival.basis"))
    assert is_label_of(label_in(line), path)
    assert "survival set by" in line and OBSERVED.name in line and "intervention" in line and 'basis = "natural"' in line
    own = write(
        tmp_path,
        "own.toml",
        f"""
        extends = "{OBSERVED}"
        [demography.survival]
        female = {{ adult = 0.8 }}
        [threats.poaching.hazard]
        adult = 0.05
        """,
    )
    assert not [w for w in resolve_scenario(own).warnings if "all_causes" in w]


def test_related_founders_with_observed_survival_are_flagged_as_double_counting(tmp_path):
    path = write(tmp_path, "fk.toml", f'extends = "{OBSERVED}"\n[genetics]\nfounder_kinship = 0.1\n')
    line = one_line_matching(resolve_scenario(path).warnings, re.escape("genetics.founder_kinship = 0.1 — founders related"))
    assert "counts it again" in line and "Leave founder_kinship at 0" in line
    natural = write(tmp_path, "fk-nat.toml", 'extends = "nonspatial-vortex"\n[genetics]\nfounder_kinship = 0.1\n')
    assert not [w for w in resolve_scenario(natural).warnings if "founder_kinship" in w]  # natural rates: no double count


# --------------------------------------------------------------------------- explain


@pytest.fixture
def child(tmp_path):
    path = write(
        tmp_path,
        "child.toml",
        """
        extends = "amur-2015-nonspatial"
        name = "child"
        description = "test scenario"
        [run]
        years = 20
        [demography.survival.female]
        cub = 0.7
        [interventions.release_lazovsky]
        type = "release"
        population = "lazovsky"
        start = 2022
        end = 2030
        every = 2
        females = 3
        males = 3
        age = 1
        unit_cost = 50000
        [interventions.patrols]
        type = "anti_poaching"
        population = "russia"
        start = 2018
        end = 2025
        effort = 3.0
        [sources]
        "run.years" = "assumption: a short test horizon"
        "demography.survival.female.cub" = "assumption: lower cub survival for the test"
        "interventions.release_lazovsky" = "MODEL.md §5: planned release"
        """,
    )
    return path, resolve_scenario(path)


def test_explain_lists_every_resolved_parameter(child):
    _path, res = child
    keys = [row[0] for row in parameter_rows(res)]
    assert keys == list(_flatten(res.scenario.model_dump(mode="json")))
    assert len(keys) == len(set(keys))


def test_explain_says_who_set_each_value_and_its_source(child):
    path, res = child
    rows = rows_by_key(res)
    value, set_by, source = rows["run.years"]
    assert (value, source) == (20, "assumption: a short test horizon") and is_label_of(set_by, path)
    value, set_by, source = rows["demography.survival.female.cub"]
    assert (value, source) == (0.7, "assumption: lower cub survival for the test") and is_label_of(set_by, path)
    value, set_by, source = rows["demography.survival.female.adult"]
    assert (value, set_by) == (resolve_scenario("amur-2015-nonspatial").scenario.demography.survival.female.adult, AMUR)
    assert source.startswith("posterior median of amur-history-nonspatial")
    value, set_by, source = rows["demography.max_age"]
    assert (value, set_by) == (15, AMUR) and source and source == resolve_scenario("amur-2015-nonspatial").sources["demography.max_age"]
    # a schema default that no file sets
    value, set_by, source = rows["demography.avoid_kinship_above"]
    assert (value, set_by) == (None, "default") and source.startswith("not set")
    # a source given for a table covers its keys
    value, set_by, source = rows["interventions.release_lazovsky.females"]
    assert (value, source) == (3, "MODEL.md §5: planned release") and is_label_of(set_by, path)
    assert rows["interventions.release_lazovsky.every"][2] == "MODEL.md §5: planned release"


def test_explain_does_not_pass_off_a_presets_citation_for_an_overridden_value(tmp_path):
    """A file that overrides a preset value without citing a source must not inherit the
    preset's citation, which describes the preset's value (run.replicates = 500 'gives
    SE(PE) ≤ 0.022' is false for 4 replicates)."""
    path = write(tmp_path, "tiny.toml", 'extends = "nonspatial-vortex"\nname = "tiny"\n[run]\nyears = 10\nreplicates = 4\n')
    res = resolve_scenario(path)
    preset = resolve_scenario("nonspatial-vortex")
    rows = rows_by_key(res)
    for key in ("run.years", "run.replicates"):
        value, set_by, source = rows[key]
        assert is_label_of(set_by, path)
        assert source != preset.sources[key], f"{key} = {value} set by {set_by} is explained by the preset's citation {source!r}"


def test_explain_credits_a_swept_value_to_the_sweep_file(tmp_path):
    path = write(tmp_path, "sw.toml", 'extends = "nonspatial-vortex"\nname = "sw"\n[sweep]\n"demography.p_breed" = [0.5, 0.6]\n')
    preset = resolve_scenario("nonspatial-vortex")
    for res in resolve_scenarios(path):
        value, set_by, source = rows_by_key(res)["demography.p_breed"]
        assert value in (0.5, 0.6)
        assert path.name in set_by and not set_by.startswith("preset:"), f"p_breed = {value} comes from the [sweep] of {path}, not from {set_by}"
        assert source != preset.sources["demography.p_breed"]


def test_derived_values_match_the_life_table(child):
    _path, res = child
    sc = res.scenario
    lt = life_table(sc)
    lines = derived_lines(sc)
    assert f"λ = {lt.lam:.4f}" in lines[0]
    assert f"r = {lt.r:.4f}" in lines[0]
    assert f"R0 = {lt.R0:.3f}" in lines[0]
    assert f"generation time = {lt.generation_time:.2f} years" in lines[0]
    # all-cause survival: the natural part is derived and shown per sex
    lines = derived_lines(resolve_scenario(OBSERVED).scenario)
    assert any(line.startswith("natural survival derived for females") for line in lines)
    assert any(line.startswith("natural survival derived for males") for line in lines)


def test_derived_values_of_a_natural_basis_scenario():
    sc = resolve_scenario("nonspatial-vortex").scenario
    lines = derived_lines(sc)
    assert len(lines) == 1
    lam = float(re.search(r"λ = ([0-9.]+)", lines[0]).group(1))
    assert lam == pytest.approx(life_table(sc).lam, abs=1e-4)
    assert 1.0 < lam < 1.1  # the preset says "gives λ ≈ 1.04 without threats"


def test_schedule_year_by_year(child):
    _path, res = child
    lines = schedule_lines(res.scenario)
    releases = [line for line in lines if "release 'release_lazovsky'" in line]
    assert [int(line.split(":")[0]) for line in releases] == [2022, 2024, 2026, 2028, 2030]
    assert all("3 females + 3 males aged 1" in line and "50,000 per animal released" in line for line in releases)
    assert any(line.startswith("2018: starts: anti-poaching patrols 'patrols' in russia: 3 patrol-days") for line in lines)
    assert "2026: ends: 'patrols' (last active year 2025)" in lines
    years = [int(line.split(":")[0]) for line in lines]
    assert years == sorted(years)


def test_schedule_clips_to_the_simulated_years(tmp_path):
    path = write(
        tmp_path,
        "clip.toml",
        """
        extends = "amur-2015-nonspatial"
        [run]
        years = 10
        [interventions.rel]
        type = "release"
        population = "lazovsky"
        start = 2021
        every = 3
        females = 2
        [interventions.early]
        type = "vaccination"
        population = "china"
        start = 2000
        coverage = 0.5
        """,
    )
    res = resolve_scenario(path)
    lines = schedule_lines(res.scenario)
    assert [int(line.split(":")[0]) for line in lines if "release 'rel'" in line] == [2021, 2024]  # not 2027 > 2025
    # starts before the run: acts from the first simulated year (2016)
    assert any(line.startswith("2016: starts: CDV vaccination 'early' in china: 50% of leopards") for line in lines)


def test_schedule_without_interventions():
    assert schedule_lines(resolve_scenario("nonspatial-vortex").scenario) == ["1–100: no interventions beyond the baseline conditions"]


def test_schedule_does_not_start_an_intervention_that_ended_before_the_run(tmp_path):
    """`start = 2010, end = 2012` is never active in a run of 2016–2035 (the engine applies
    an intervention when start ≤ year ≤ end); the schedule must not say it starts in 2016."""
    path = write(
        tmp_path,
        "past.toml",
        """
        extends = "amur-2015-nonspatial"
        [run]
        years = 20
        [interventions.old]
        type = "anti_poaching"
        population = "russia"
        start = 2010
        end = 2012
        effort = 5.0
        """,
    )
    lines = schedule_lines(resolve_scenario(path).scenario)
    assert not any("starts" in line and "'old'" in line for line in lines), lines
    dated = [int(m.group(1)) for m in (re.match(r"^(\d{4})\b", line) for line in lines) if m]
    assert all(2016 <= year <= 2035 for year in dated), f"events outside the simulated years 2016–2035: {lines}"


def test_explain_derives_the_leopards_a_populations_prey_can_feed():
    """The largest sustainable predation of logistic prey rP(1 − P/K) − hP is at P = K(r − h)/(2r)
    and equals K(r − h)²/(4r) per km²; divided by an adult female's kills it is the ceiling the
    prey sets, beside the carrying capacity."""
    from pardus.scenario.explain import prey_ceilings

    sc = resolve_scenario("amur-2015-nonspatial").scenario
    p, po, pop = sc.prey, sc.threats.poaching, sc.populations["russia"]
    e = pop.patrol_effort
    h = p.offtake * pop.human_access * (1 - po.prey_patrol_max_effect * e / (e + po.patrol_half_effort))
    name, most, at, kept = prey_ceilings(sc)[0]
    assert name == "russia"
    assert at == pytest.approx(pop.prey_capacity * (p.growth_rate - h) / (2 * p.growth_rate))
    yield_at = p.growth_rate * at * (1 - at / pop.prey_capacity) - h * at
    assert most == pytest.approx(pop.area_km2 * yield_at / p.kills_per_leopard)
    d = p.required_density
    assert kept == pytest.approx(pop.area_km2 * (p.growth_rate * d * (1 - d / pop.prey_capacity) - h * d) / p.kills_per_leopard)
    assert kept < most
    assert any(line.startswith("prey of russia") and f"at most {most:.0f}" in line for line in derived_lines(sc))
    assert prey_ceilings(resolve_scenario("nonspatial-vortex").scenario) == []  # no predation modelled
