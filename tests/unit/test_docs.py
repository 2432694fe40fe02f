"""The documentation is true to the engine.

- Every example output in README.md, docs/user-guide.md and docs/model.md sits in a block that
  docs/regenerate.py (`make docs`) rewrites from the engine, and its marker names a command the
  script runs; no hand-written example output of those commands is left outside such blocks.
- The blocks that simulate nothing (presets, check, explain, the preset tables) are checked
  against what the engine prints now; the simulating ones are kept small.
- The Python API section of the user guide runs exactly as printed, and prints what its
  comments say.
- The presets' sources are followable: a publication, data set or web page, or `assumption` with
  a range — never the unshipped domain specification ("MODEL.md §…") or its "seed texts".
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pardus.scenario import list_presets, resolve_scenario
from pardus.scenario.loader import _flatten

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "user-guide.md"


def _load_script():
    spec = importlib.util.spec_from_file_location("pardus_docs_regenerate", ROOT / "docs" / "regenerate.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


regen = _load_script()


def blocks_of(name: str):
    return regen.find_blocks(name, (ROOT / name).read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- generated blocks


@pytest.mark.parametrize("name", regen.DOCS)
def test_every_generated_block_names_a_command_the_script_runs(name):
    blocks = blocks_of(name)  # DocsError for a marker the script cannot read
    assert blocks, f"{name} has no generated block"
    for block in blocks:
        for cmd in block.commands:
            if cmd.kind == "sources":
                assert cmd.args[0] in list_presets(), f"{name}:{block.line}: no preset {cmd.args[0]}"
            else:
                assert cmd.args[0] in regen.VERBS, f"{name}:{block.line}: {cmd.display}"
            for f in cmd.filters:
                assert f.name in regen.FILTERS


def test_the_documents_generate_what_they_show():
    """The blocks the user guide and the README are known to need, so that a block cannot go
    missing unnoticed (and the model tables cover every preset)."""
    guide = [c.display for b in blocks_of("docs/user-guide.md") for c in b.commands]
    for expected in ("pardus presets", "pardus check broken.toml", "pardus check warn.toml", "pardus check sweep.toml"):
        assert expected in guide
    verbs = {c.args[0] for b in blocks_of("docs/user-guide.md") for c in b.commands}
    assert {"presets", "check", "explain", "compare"} <= verbs
    assert any(c.args[0] == "compare" for b in blocks_of("README.md") for c in b.commands)
    tables = {c.args[0] for b in blocks_of("docs/model.md") for c in b.commands if c.kind == "sources"}
    assert tables == set(list_presets())


def test_simulating_blocks_are_small_and_seeded():
    """A few hundred replicates at most, and a fixed seed, so that `make docs` takes about a
    minute and prints the same numbers for the same engine."""
    found = 0
    for name in regen.DOCS:
        for block in blocks_of(name):
            for cmd in block.commands:
                if cmd.simulates:
                    found += 1
                    n = cmd.option("-n", "--replicates")
                    assert n is not None and 0 < int(n) <= 300, f"{name}:{block.line}: give -n of at most 300 ({cmd.display})"
                    assert cmd.option("-s", "--seed") is not None, f"{name}:{block.line}: give --seed ({cmd.display})"
    assert found, "no simulating block: the README and user guide show compare output"


#: lines that only the output of a covered command contains
OUTPUT_SIGNS = [
    re.compile(r"^\$ (?:\S+=\S+ )*pardus (?:presets|check|explain|run|compare|summary)\b"),
    re.compile(r"Population viability: \d"),
    re.compile(r"Difference from '"),
    re.compile(r"Resolved parameters"),
    re.compile(r"is valid \(\d+ warning"),
    re.compile(r"^(?:error|warning): "),
    re.compile(r"deterministic growth \(life table"),
    re.compile(r"^[│┃┏┡└]"),
]
PRESET_ROW = re.compile(r"^\| `(?:run|demography|genetics|threats|prey|populations|dispersal|captive|interventions)\.[\w.*]+` \| ")
FENCE = re.compile(r"^```[^\n]*\n(?P<code>.*?)^```$", re.M | re.S)
EXEMPT = re.compile(r"<!-- not generated: (?P<why>[^>]*\S)\s*-->\s*\n```[^\n]*\n(?P<code>.*?)^```$", re.M | re.S)


def hand_written_outputs(text: str) -> list[str]:
    """Lines outside generated blocks that look like output of a command docs/regenerate.py runs."""
    text = regen.BLOCK.sub("", text)
    text = EXEMPT.sub("", text)
    bad = [ln for m in FENCE.finditer(text) for ln in m.group("code").splitlines() if any(s.search(ln) for s in OUTPUT_SIGNS)]
    bad += [ln for ln in text.splitlines() if PRESET_ROW.match(ln)]
    return bad


def test_the_hand_written_output_check_finds_what_it_should():
    sample = "```console\n$ pardus check x.toml\nx.toml: scenario 'x' is valid (0 warning(s))\n```\n| `run.years` | 100 | assumption |\n"
    assert len(hand_written_outputs(sample)) == 3
    generated = "<!-- generated: $ pardus check x.toml -->\n" + sample.split("| `run")[0] + "<!-- end generated -->\n"
    assert hand_written_outputs(generated) == []
    exempt = "<!-- not generated: depends on timing -->\n```console\nerror: interrupted\n```\n"
    assert hand_written_outputs(exempt) == []
    assert hand_written_outputs("```sh\npardus run a.toml -n 10\n```\n") == []  # a command, not its output


@pytest.mark.parametrize("name", regen.DOCS)
def test_no_hand_written_example_output_outside_generated_blocks(name):
    bad = hand_written_outputs((ROOT / name).read_text(encoding="utf-8"))
    assert not bad, f"{name}: example output outside generated blocks (mark it for docs/regenerate.py): {bad[:5]}"


def test_exempt_blocks_say_why():
    for name in regen.DOCS:
        for m in EXEMPT.finditer((ROOT / name).read_text(encoding="utf-8")):
            assert len(m.group("why")) > 20, f"{name}: a 'not generated' block needs its reason"


def test_blocks_that_simulate_nothing_match_the_engine_now():
    """presets, check, explain and the preset tables, regenerated now (seconds); the run and
    compare blocks are left to `make docs`."""
    done = regen.regenerate(regen.DOCS, fast=True)
    stale = [f"{b.path}:{b.line} ({b.commands[0].display})" for b in done.stale]
    assert not stale, f"out of date — run `make docs`: {stale}"
    assert done.skipped and all(b.slow for b in done.skipped)


def test_script_refuses_markers_and_filters_it_cannot_honour():
    with pytest.raises(regen.DocsError, match="runs `pardus VERB"):
        regen.parse_spec("pardus frobnicate x.toml", "doc.md:1")
    with pytest.raises(regen.DocsError, match="unknown filter"):
        regen.parse_spec('pardus presets | grep "x"', "doc.md:1")
    with pytest.raises(regen.DocsError, match="prompt"):
        regen.parse_spec("$ pardus presets\npardus presets", "doc.md:1")
    with pytest.raises(regen.DocsError, match="markers"):
        regen.find_blocks("doc.md", "<!-- generated: pardus presets -->\n```text\n```\n")
    lines = ["title", "│ a.b │ 1 │", "│ c.d │ 2 │", "│     │ 2 │", "│ e.f │ 3 │", "└─────┘"]
    assert regen.keep_rows(lines, {"c.d"}, "t") == ["title", "…", "│ c.d │ 2 │", "│     │ 2 │", "…", "└─────┘"]
    with pytest.raises(regen.DocsError, match="no row for x.y"):
        regen.keep_rows(lines, {"x.y"}, "t")
    with pytest.raises(regen.DocsError, match="no line of the output"):
        regen.apply_filters(lines, (regen.Filter("from", ("Nothing",)),), "t")


def test_command_options_are_read_as_given():
    cmd = regen.parse_spec('pardus compare a.toml b.toml -n 100 --seed=2015 -o c.nc | from "Difference"', "d:1")[0]
    assert (cmd.option("-n", "--replicates"), cmd.option("-s", "--seed")) == ("100", "2015")
    assert cmd.simulates and cmd.filters == (regen.Filter("from", ("Difference",)),)
    env = regen.parse_spec("$ COLUMNS=160 pardus explain x.toml  # a comment", "d:1")[0]
    assert env.env == (("COLUMNS", "160"),) and env.args == ("explain", "x.toml") and env.display.endswith("# a comment")


# --------------------------------------------------------------------------- the Python API section


def api_section() -> str:
    text = GUIDE.read_text(encoding="utf-8")
    start = text.index("\n## 14. Python API\n")
    end = text.index("\n## ", start + 1)
    return text[start:end]


def api_snippets() -> list[str]:
    return re.findall(r"^```python\n(.*?)^```$", api_section(), re.M | re.S)


def expected_prints(code: str) -> list[str]:
    """What the snippets' comments say a print() shows: `print(...)  # shown`, and comment lines
    right below a print() that has none."""
    out, lines = [], code.splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"^\s*print\(.*\)\s+#\s*(?P<shown>\S.*)$", line)
        if m:
            out.append(m.group("shown").strip())
        elif re.match(r"^\s*print\(.*\)\s*$", line):
            j = i + 1
            while j < len(lines) and re.match(r"^\s*#\s*\S", lines[j]):
                out.append(lines[j].strip()[1:].strip())
                j += 1
    return out


def test_the_api_section_covers_the_api():
    code = "\n".join(api_snippets())
    for used in ("pardus.load_scenario(", "overrides=", ".replace(", "pardus.load_scenarios(", "[sweep]", "pardus.simulate(",
                 "pardus.summarize(", "pardus.compare_to_baseline(", "pardus.save_results(", "pardus.load_results(",
                 "pardus.list_presets()", "except pardus.ScenarioError"):
        assert used in code, f"the Python API section does not show {used}"
    assert len(expected_prints(code)) >= 8


def test_the_api_section_runs_as_printed_and_prints_what_it_says(tmp_path):
    """Every ```python block of the section, in order, as one script in a fresh interpreter, in a
    folder that holds examples/ (as the section says)."""
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    code = "\n".join(api_snippets())
    script = tmp_path / "api.py"
    script.write_text(code, encoding="utf-8")
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, f"the Python API section fails as printed:\n{done.stderr[-3000:]}"
    shown = [ln.strip() for ln in done.stdout.splitlines()]
    missing = [e for e in expected_prints(code) if e not in shown]
    assert not missing, f"the comments say these are printed, but they are not: {missing}\n--- printed:\n{done.stdout}"
    assert (tmp_path / "patrols.nc").exists()


# --------------------------------------------------------------------------- preset sources

UNFOLLOWABLE = re.compile(r"MODEL\.md|§|\bseeds?\b", re.IGNORECASE)
RANGE = re.compile(r"range [−-]?\d[\d.,]*\s*[–-]\s*\d")


@pytest.mark.parametrize("preset", list_presets())
def test_preset_sources_name_no_unshipped_document(preset):
    res = resolve_scenario(preset)
    bad = {k: v for k, v in res.sources.items() if UNFOLLOWABLE.search(v)}
    assert not bad, f"{preset}: sources a user cannot follow (cite the paper or data set, or say assumption): {bad}"


@pytest.mark.parametrize("preset", list_presets())
def test_assumed_preset_values_give_a_plausible_range(preset):
    """A number the preset sets on an assumption says within which range it could plausibly lie
    (the start year of abstract time is a label, not a quantity)."""
    res = resolve_scenario(preset)
    missing = {}
    for key, value in _flatten(res.raw).items():
        if key == "run.start_year" or isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        parts = key.split(".")
        source = next((res.sources[".".join(parts[:i])] for i in range(len(parts), 0, -1) if ".".join(parts[:i]) in res.sources), "")
        if source.lower().startswith("assumption") and not RANGE.search(source):
            missing[key] = source
    assert not missing, f"{preset}: assumed values without a range: {missing}"
