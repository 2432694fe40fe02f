"""The version of pardus: PEP 440, derived from git by setuptools-scm, the same in `pardus
--version` and in every results file, and following new commits in a source checkout (where
the installed metadata of an editable install goes stale).

The checkout behaviour is tested on a throw-away git repository holding a copy of
``pardus/__init__.py`` and ``pyproject.toml``: nothing here commits to or tags the real one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from importlib.metadata import version as installed_version
from pathlib import Path

import pytest
from packaging.version import Version

import pardus

ROOT = Path(__file__).resolve().parents[2]
INIT = ROOT / "src" / "pardus" / "__init__.py"
HAS_GIT = shutil.which("git") is not None


def _has_scm() -> bool:
    try:
        import setuptools_scm  # noqa: F401
    except ImportError:
        return False
    return True


def _clean_env() -> dict[str, str]:
    """The environment without setuptools-scm's override variables and git identity needs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SETUPTOOLS_SCM_", "GIT_")) and k != "SOURCE_DATE_EPOCH"}
    env.update(GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.org", GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.org")
    return env


def test_version_is_pep440_and_not_the_unknown_placeholder():
    v = Version(pardus.__version__)  # raises InvalidVersion otherwise
    assert str(v) == pardus.__version__, "the version is not in its normalised PEP 440 form"
    assert pardus.__version__ != "0.0.0+unknown"
    assert "__version__" in dir(pardus) and "__version__" in pardus.__all__


def test_cli_version_prints_the_same_version():
    done = subprocess.run([sys.executable, "-m", "pardus.cli", "--version"], capture_output=True, text=True, check=True)
    assert done.stdout == f"pardus {pardus.__version__}\n"


def test_results_dataset_and_file_carry_the_version(tmp_path):
    sc = pardus.load_scenario("nonspatial-vortex", overrides={"run.years": 2})
    ds = pardus.simulate(sc, replicates=2, seed=3, workers=1)
    assert ds.attrs["pardus_version"] == pardus.__version__
    path = tmp_path / "r.nc"
    pardus.save_results(ds, path)
    assert pardus.load_results(path).attrs["pardus_version"] == pardus.__version__


@pytest.mark.skipif(not ((ROOT / ".git").is_dir() and HAS_GIT and _has_scm()), reason="needs this source tree as a git checkout and setuptools-scm")
def test_source_checkout_reports_what_setuptools_scm_derives_now():
    """In the checkout, not the (possibly stale) installed metadata: the version setuptools-scm
    computes from git right now, which names the current commit unless it sits on a tag."""
    import warnings

    from setuptools_scm import Configuration, _get_version

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        expected = _get_version(Configuration.from_file(ROOT / "pyproject.toml", dist_name="pardus", root=str(ROOT)), force_write_version_files=False)
    fresh = subprocess.run([sys.executable, "-c", "import pardus; print(pardus.__version__)"], capture_output=True, text=True, check=True, cwd=ROOT)
    assert fresh.stdout.strip() == expected
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    on_tag = subprocess.run(["git", "-C", str(ROOT), "describe", "--tags", "--exact-match", "HEAD"], capture_output=True, text=True).returncode == 0
    if not on_tag:
        assert f"+g{head[:9]}" in expected, f"{expected} does not name commit {head[:9]}"


# --------------------------------------------------------------- a throw-away checkout


@pytest.fixture
def checkout(tmp_path):
    """A git repository laid out like the source tree, with a copy of the real __init__.py."""
    if not (HAS_GIT and _has_scm()):
        pytest.skip("needs git and setuptools-scm")
    (tmp_path / "src" / "pardus").mkdir(parents=True)
    shutil.copy(INIT, tmp_path / "src" / "pardus" / "__init__.py")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "engine.txt").write_text("v1\n")
    env = _clean_env()

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(tmp_path), *args], capture_output=True, text=True, check=True, env=env).stdout.strip()

    git("init", "-q")
    git("add", ".")
    git("commit", "-q", "-m", "first")
    return tmp_path, git, env


def version_in(tree: Path, env: dict[str, str]) -> str:
    code = "import sys; sys.path.insert(0, 'src'); import pardus; assert pardus.__file__.startswith(sys.argv[1]), pardus.__file__; print(pardus.__version__)"
    done = subprocess.run([sys.executable, "-c", code, str(tree)], capture_output=True, text=True, cwd=tree, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_checkout_version_follows_commits_tags_and_changes(checkout):
    tree, git, env = checkout
    first = version_in(tree, env)
    assert first.endswith(f"+g{git('rev-parse', 'HEAD')[:9]}"), "a clean checkout: the commit, no date"
    assert Version(first) > Version("0.2.0"), "without a tag the count starts above the fallback version"

    (tree / "engine.txt").write_text("v2\n")  # an uncommitted change to a tracked file
    dirty = version_in(tree, env)
    assert dirty.startswith(first + ".d"), "uncommitted changes add the date to the commit"

    git("commit", "-q", "-am", "second")
    second = version_in(tree, env)
    assert second != first and f"+g{git('rev-parse', 'HEAD')[:9]}" in second
    assert Version(second) > Version(first)

    git("tag", "v1.4.0")
    assert version_in(tree, env) == "1.4.0"
    git("commit", "-q", "--allow-empty", "-m", "third")
    after_tag = version_in(tree, env)
    assert after_tag.startswith("1.4.1.dev1+g")


def test_checkout_version_is_cached_under_a_key_of_commit_and_state(checkout):
    import json

    tree, git, env = checkout
    real = version_in(tree, env)
    cache = tree / ".git" / "pardus-version.json"
    entry = json.loads(cache.read_text())
    assert entry["version"] == real
    # the cached answer is used as long as the key matches (setuptools-scm is not asked again) …
    cache.write_text(json.dumps({"key": entry["key"], "version": "9.9.9"}))
    assert version_in(tree, env) == "9.9.9"
    # … and a new commit changes the key, so the stale entry is not used
    git("commit", "-q", "--allow-empty", "-m", "next")
    fresh = version_in(tree, env)
    assert fresh != "9.9.9" and f"+g{git('rev-parse', 'HEAD')[:9]}" in fresh
    # a damaged cache file is recomputed, not trusted
    cache.write_text("{not json")
    assert version_in(tree, env) == fresh


def test_without_git_metadata_the_installed_version_is_used(checkout):
    tree, _git, env = checkout
    shutil.rmtree(tree / ".git")
    assert version_in(tree, env) == installed_version("pardus")
