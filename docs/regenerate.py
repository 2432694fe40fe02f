"""Regenerate the example outputs in the documentation from the current engine.

    python docs/regenerate.py             # rewrite every generated block (`make docs`)
    python docs/regenerate.py --check     # exit 1 if a block differs from what the engine prints now
    python docs/regenerate.py --fast      # only blocks that simulate nothing (presets, check,
                                          # explain, sources): seconds instead of a minute

A generated block in README.md, docs/user-guide.md or docs/model.md is marked in the Markdown
source (the comments do not show on a rendered page)::

    <!-- generated: pardus compare a.toml b.toml -n 100 --seed 2015 | from "Difference from" -->
    ```text
    …whatever the command prints, replaced on every run…
    ```
    <!-- end generated -->

The comment names what produces the block, one command per line:

``pardus ARGS`` — one command; its standard output goes into a ```text block.
``$ pardus ARGS`` — one or more commands (one per line), each shown with its ``$`` prompt and
    followed by what it prints on standard output and standard error (errors, warnings), in a
    ```console block. A ``# comment`` after the command is shown, not run.
``NAME=value`` before ``pardus`` sets an environment variable for that command (e.g.
    ``COLUMNS=160`` for the width of tables).
``| FILTER`` after a command keeps part of its output: ``from "TEXT"`` (from the first line
    containing TEXT), ``until "TEXT"`` (the lines before it), ``rows KEY …`` (of a table, only
    the rows whose first cell is one of the keys, "…" standing for the rows left out).
``sources PRESET`` — the Markdown table of every parameter of a shipped preset with its value
    and source, and the derived growth rates (docs/model.md).

Every command runs in one scratch folder that holds a copy of ``examples/`` and the files that
the documents show: each ```toml block whose first line is ``# path/name.toml`` is written
there as that file. Commands run with the ``pardus`` of this interpreter, never in a shell.
A command that fails where it should not, a filter that finds nothing, or a marker this script
cannot read stops the script with a message naming the file and line; nothing is written then.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ("README.md", "docs/user-guide.md", "docs/model.md")

#: the verbs of `pardus` a block may run, and those that simulate (slow; skipped by --fast)
VERBS = frozenset({"presets", "check", "explain", "run", "compare", "summary", "validate", "landscape", "connectivity", "corridors", "estimate", "design"})
SIMULATING = frozenset({"run", "compare", "validate", "landscape"})
SLOW = frozenset({"connectivity", "corridors", "estimate", "design"})  # simulate nothing (or surveys, not populations), but take seconds: skipped by --fast too
FILTERS = frozenset({"from", "until", "rows"})

BLOCK = re.compile(r"^<!-- generated:(?P<spec>.*?)-->\n(?P<body>.*?)^<!-- end generated -->$", re.M | re.S)
OPEN = re.compile(r"<!-- generated:")
CLOSE = re.compile(r"<!-- end generated -->")
FIXTURE = re.compile(r"^```toml\n(?P<text># (?P<path>[\w][\w./-]*\.toml)\b[^\n]*\n.*?)^```$", re.M | re.S)
ENV_ASSIGNMENT = re.compile(r"^[A-Z_][A-Z0-9_]*=")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")

#: the environment every command gets (plain text, no colours, lines not cut at 80 columns)
BASE_ENV = {"COLUMNS": "400", "NO_COLOR": "1", "TERM": "dumb", "PYTHONUNBUFFERED": "1"}
DROPPED_ENV = ("FORCE_COLOR", "CLICOLOR_FORCE", "COLUMNS", "LINES")


class DocsError(Exception):
    """A marker that cannot be read, or a command or filter that does not give what it should."""


@dataclass(frozen=True)
class Filter:
    name: str
    args: tuple[str, ...]


@dataclass(frozen=True)
class Command:
    display: str  # the command as shown after the prompt (comment included, filters not)
    args: tuple[str, ...]  # after `pardus` (or the preset name for `sources`)
    env: tuple[tuple[str, str], ...] = ()
    filters: tuple[Filter, ...] = ()
    prompt: bool = False
    kind: str = "pardus"  # or "sources"

    @property
    def simulates(self) -> bool:
        """Whether it runs replicates (slow). A `$` command of `run` or `compare` is taken not to:
        console blocks show what a command prints on both streams, here the errors found before
        anything runs (with --fast such a block still runs, it only takes longer)."""
        return self.kind == "pardus" and self.args[0] in SIMULATING and not self.prompt

    @property
    def slow(self) -> bool:
        """Whether --fast skips it: it simulates, or it solves (connectivity)."""
        return self.simulates or (self.kind == "pardus" and self.args[0] in SLOW and not self.prompt)

    def option(self, *names: str) -> str | None:
        """The value of a command-line option (``-n 100`` or ``--replicates=100``), or None."""
        for i, a in enumerate(self.args):
            for n in names:
                if a == n and i + 1 < len(self.args):
                    return self.args[i + 1]
                if a.startswith(n + "="):
                    return a.split("=", 1)[1]
        return None


@dataclass
class Block:
    path: str
    line: int  # of the opening marker, 1-based
    spec: str
    body: str
    start: int  # offsets of the body in the file text
    end: int
    commands: list[Command] = field(default_factory=list)

    @property
    def simulates(self) -> bool:
        return any(c.simulates for c in self.commands)

    @property
    def slow(self) -> bool:
        return any(c.slow for c in self.commands)


# --------------------------------------------------------------------------- reading markers


def parse_filter(text: str, where: str) -> Filter:
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise DocsError(f"{where}: filter {text!r} — {exc}") from None
    if not words or words[0] not in FILTERS:
        raise DocsError(f"{where}: unknown filter {text!r} — filters are: {', '.join(sorted(FILTERS))}")
    name, args = words[0], tuple(words[1:])
    if name in ("from", "until") and len(args) != 1:
        raise DocsError(f"{where}: `{name}` takes one quoted text, e.g. {name} \"Difference from\"")
    if name == "rows" and not args:
        raise DocsError(f"{where}: `rows` needs the keys of the rows to keep")
    return Filter(name, args)


def parse_command(line: str, where: str) -> Command:
    prompt = line.startswith("$ ")
    if prompt:
        line = line[2:].strip()
    head, *filter_texts = line.split(" | ")
    display = head.rstrip()
    try:
        words = shlex.split(display, comments=True)
    except ValueError as exc:
        raise DocsError(f"{where}: {display!r} — {exc}") from None
    env = []
    while words and ENV_ASSIGNMENT.match(words[0]):
        name, value = words.pop(0).split("=", 1)
        env.append((name, value))
    filters = tuple(parse_filter(t, where) for t in filter_texts)
    if words[:1] == ["sources"]:
        if prompt or env or filters or len(words) != 2:
            raise DocsError(f"{where}: `sources PRESET` takes one preset name and nothing else")
        return Command(display, (words[1],), kind="sources")
    if len(words) < 2 or words[0] != "pardus" or words[1] not in VERBS:
        raise DocsError(f"{where}: {display!r} — a generated block runs `pardus VERB …` (VERB one of {', '.join(sorted(VERBS))}) or `sources PRESET`")
    return Command(display, tuple(words[1:]), tuple(env), filters, prompt)


def parse_spec(spec: str, where: str) -> list[Command]:
    lines = [ln.strip() for ln in spec.strip().splitlines() if ln.strip()]
    if not lines:
        raise DocsError(f"{where}: the marker names no command")
    commands = [parse_command(ln, where) for ln in lines]
    prompts = {c.prompt for c in commands}
    if len(prompts) > 1:
        raise DocsError(f"{where}: either every command has a `$ ` prompt or none has")
    if not commands[0].prompt and len(commands) > 1:
        raise DocsError(f"{where}: several commands need `$ ` prompts (a console block)")
    return commands


def find_blocks(path: str, text: str) -> list[Block]:
    """Every generated block of a document, with its commands parsed (DocsError if malformed)."""
    blocks = []
    for m in BLOCK.finditer(text):
        line = text.count("\n", 0, m.start()) + 1
        where = f"{path}:{line}"
        if OPEN.search(m.group("body")):
            raise DocsError(f"{where}: a generated block opens inside another one — close it with <!-- end generated -->")
        block = Block(path, line, m.group("spec"), m.group("body"), m.start("body"), m.end("body"))
        block.commands = parse_spec(block.spec, where)
        blocks.append(block)
    if len(OPEN.findall(text)) != len(blocks) or len(CLOSE.findall(text)) != len(blocks):
        raise DocsError(f"{path}: {len(OPEN.findall(text))} <!-- generated: … --> markers and {len(CLOSE.findall(text))} <!-- end generated --> for {len(blocks)} complete blocks — each block opens on a line of its own and ends with <!-- end generated --> on a line of its own")
    return blocks


def fixtures(path: str, text: str) -> dict[str, str]:
    """The files a document shows: ```toml blocks whose first line is `# path.toml`."""
    found: dict[str, str] = {}
    for m in FIXTURE.finditer(text):
        rel = m.group("path")
        if rel.startswith("/") or ".." in Path(rel).parts:
            raise DocsError(f"{path}: the file {rel} shown in the document must have a relative path inside the project folder")
        if rel in found and found[rel] != m.group("text"):
            raise DocsError(f"{path}: two different files named {rel}")
        found[rel] = m.group("text")
    return found


# --------------------------------------------------------------------------- running


def pardus_command() -> list[str]:
    script = Path(sys.executable).with_name("pardus")
    return [str(script)] if script.exists() else [sys.executable, "-m", "pardus.cli"]


class Runner:
    """Runs commands in one scratch folder, each distinct command once."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.cache: dict[tuple, tuple[int, str]] = {}

    def output(self, cmd: Command) -> tuple[int, str]:
        key = (cmd.args, cmd.env, cmd.prompt)
        if key not in self.cache:
            env = {k: v for k, v in os.environ.items() if k not in DROPPED_ENV}
            env.update(BASE_ENV)
            env.update(dict(cmd.env))
            done = subprocess.run(
                [*pardus_command(), *cmd.args],
                cwd=self.folder,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT if cmd.prompt else subprocess.PIPE,
                text=True,
                timeout=1800,
            )
            text = ANSI.sub("", done.stdout).replace(str(self.folder.resolve()) + os.sep, "").replace(str(self.folder) + os.sep, "")
            lines = [ln.rstrip() for ln in text.splitlines()]
            while lines and not lines[0]:
                lines.pop(0)
            while lines and not lines[-1]:
                lines.pop()
            stderr = ANSI.sub("", done.stderr or "")
            if "Traceback (most recent call last)" in text or "Traceback (most recent call last)" in stderr:
                raise DocsError(f"`pardus {shlex.join(cmd.args)}` crashed:\n{text}{stderr}")
            if not cmd.prompt and done.returncode != 0:
                raise DocsError(f"`pardus {shlex.join(cmd.args)}` exited with {done.returncode} (a ```text block shows a command that works):\n{stderr}")
            self.cache[key] = (done.returncode, "\n".join(lines))
        return self.cache[key]


def apply_filters(lines: list[str], filters: tuple[Filter, ...], what: str) -> list[str]:
    for f in filters:
        if f.name in ("from", "until"):
            hits = [i for i, ln in enumerate(lines) if f.args[0] in ln]
            if not hits:
                raise DocsError(f"{what}: `{f.name} \"{f.args[0]}\"` — no line of the output contains it; the output now starts:\n" + "\n".join(lines[:8]))
            lines = lines[hits[0] :] if f.name == "from" else lines[: hits[0]]
            while lines and not lines[-1].strip():
                lines.pop()
        elif f.name == "rows":
            lines = keep_rows(lines, set(f.args), what)
    return lines


def keep_rows(lines: list[str], keys: set[str], what: str) -> list[str]:
    """Of a box-drawn table, the rows whose first cell is one of ``keys`` (with the lines a
    folded cell continues on); "…" stands for each run of rows left out. Other lines stay."""
    out: list[str] = []
    keep = omitted = False
    found: set[str] = set()
    in_table = False
    for line in lines:
        s = line.lstrip()
        if s[:1] in ("│", "|"):
            in_table = True
            cells = s.split(s[0])
            first = cells[1].strip() if len(cells) > 2 else ""
            if first:
                keep = first in keys
                if keep:
                    found.add(first)
            if keep:
                if omitted:
                    out.append("…")
                    omitted = False
                out.append(line)
            else:
                omitted = True
            continue
        if omitted:
            out.append("…")
            omitted = False
        out.append(line)
    if not in_table:
        raise DocsError(f"{what}: `rows` — the output has no table with │-separated cells")
    if keys - found:
        raise DocsError(f"{what}: `rows` — no row for {', '.join(sorted(keys - found))} in the output")
    return out


def _value(v) -> str:
    if v is None:
        return "unset"
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "none" if not v else ", ".join(f"{k} = {_value(x)}" for k, x in v.items())
    return str(v)


def sources_table(preset: str) -> str:
    """Every parameter of a preset with its value and source, as the Markdown of model.md.

    Values that the preset leaves at their schema default and that are covered by the source of
    a parent table are gathered in one row ``table.*`` ("defaults: key = value, …")."""
    from pardus.scenario import list_presets, resolve_scenario
    from pardus.scenario.explain import derived_lines, parameter_rows

    if preset not in list_presets():
        raise DocsError(f"sources {preset}: no such preset — shipped presets are: {', '.join(list_presets())}")
    res = resolve_scenario(preset)
    rows: list[list[str]] = []
    groups: dict[str, list[str]] = {}
    for key, value, set_by, source in parameter_rows(res):
        if key in ("name", "description"):
            continue
        parts = key.split(".")
        # the key, or its nearest parent table, that [sources] cites
        owner = next((".".join(parts[:i]) for i in range(len(parts), 0, -1) if ".".join(parts[:i]) in res.sources), None)
        if set_by == "default" and owner is not None and owner != key:
            if owner not in groups:
                groups[owner] = []
                rows.append([f"`{owner}.*`", "", res.sources[owner]])
            groups[owner].append(f"{key[len(owner) + 1 :]} = {_value(value)}")
            continue
        shown = _value(value) + (" (default)" if set_by == "default" else "")
        rows.append([f"`{key}`", shown, source])
    for row in rows:
        owner = row[0][1:-3] if row[0].endswith(".*`") else None
        if owner in groups:
            row[1] = "defaults: " + ", ".join(groups[owner])
    cell = lambda s: str(s).replace("|", "\\|")  # noqa: E731
    table = ["| parameter | value | source |", "|---|---|---|", *(f"| {' | '.join(cell(c) for c in row)} |" for row in rows)]
    derived = [f"- {ln}" for ln in derived_lines(res.scenario)]
    return "\n".join([*table, "", f"Derived (`pardus explain {preset}`):", "", *derived])


def render(block: Block, runner: Runner) -> str:
    where = f"{block.path}:{block.line}"
    if block.commands[0].kind == "sources":
        if len(block.commands) != 1:
            raise DocsError(f"{where}: `sources PRESET` stands alone in its block")
        return sources_table(block.commands[0].args[0]) + "\n"
    parts = []
    for cmd in block.commands:
        _rc, out = runner.output(cmd)
        lines = apply_filters(out.splitlines(), cmd.filters, f"{where}: `{cmd.display}`")
        if cmd.prompt:
            parts.append(f"$ {cmd.display}")
        parts.extend(lines)
    fence = "console" if block.commands[0].prompt else "text"
    return f"```{fence}\n" + "\n".join(parts) + "\n```\n"


# --------------------------------------------------------------------------- main


def load_documents(names) -> dict[str, str]:
    return {name: (ROOT / name).read_text(encoding="utf-8") for name in names}


def prepare_folder(folder: Path, texts: dict[str, str]) -> None:
    shutil.copytree(ROOT / "examples", folder / "examples")
    written: dict[str, str] = {}
    for name, text in texts.items():
        for rel, content in fixtures(name, text).items():
            if rel in written and written[rel] != content:
                raise DocsError(f"{name}: shows a file {rel} that another document shows with other content")
            written[rel] = content
            target = folder / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content, encoding="utf-8")


@dataclass
class Outcome:
    old: dict[str, str]  # document → its text now
    new: dict[str, str]  # document → its text with every block regenerated
    stale: list[Block]  # blocks whose content differs from what the engine prints now
    skipped: list[Block]  # blocks left as they were (--fast: they simulate)


def regenerate(names=DOCS, *, fast: bool = False) -> Outcome:
    texts = load_documents(names)
    blocks = {name: find_blocks(name, text) for name, text in texts.items()}
    new: dict[str, str] = {}
    stale: list[Block] = []
    skipped: list[Block] = []
    with tempfile.TemporaryDirectory(prefix="pardus-docs-") as tmp:
        folder = Path(tmp)
        prepare_folder(folder, load_documents(DOCS))
        runner = Runner(folder)
        for name, text in texts.items():
            pieces, pos = [], 0
            for block in blocks[name]:
                pieces.append(text[pos : block.start])
                if fast and block.slow:
                    body = block.body
                    skipped.append(block)
                else:
                    body = render(block, runner)
                    if body != block.body:
                        stale.append(block)
                pieces.append(body)
                pos = block.end
            pieces.append(text[pos:])
            new[name] = "".join(pieces)
    return Outcome(texts, new, stale, skipped)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    ap.add_argument("files", nargs="*", default=list(DOCS), help=f"documents to regenerate (default: {', '.join(DOCS)})")
    ap.add_argument("--check", action="store_true", help="change nothing; exit 1 if a generated block is out of date")
    ap.add_argument("--fast", action="store_true", help="leave the blocks that simulate (run, compare) as they are")
    args = ap.parse_args(argv)
    try:
        done = regenerate(args.files, fast=args.fast)
    except DocsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for block in done.skipped:
        print(f"skipped (--fast, it simulates or solves): {block.path}:{block.line}", file=sys.stderr)
    for block in done.stale:
        print(f"{'out of date' if args.check else 'regenerated'}: {block.path}:{block.line} ({block.commands[0].display})", file=sys.stderr)
    if args.check:
        if done.stale:
            print("run `make docs` to regenerate them", file=sys.stderr)
        return 1 if done.stale else 0
    for name, text in done.new.items():
        if text != done.old[name]:
            (ROOT / name).write_text(text, encoding="utf-8")
    if not done.stale:
        print("every generated block is up to date", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
