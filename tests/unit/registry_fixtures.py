"""Fixtures of the registry tests: every test runs on SQLite and on PostgreSQL.

``registry_url`` is parametrised over the two back ends and gives a fresh, empty database for
each test: an SQLite file in the test's temporary folder (given as a plain path, as users do),
or a fresh PostgreSQL schema (``CREATE SCHEMA``; the URL sets ``search_path`` to it) dropped
after the test.

The PostgreSQL server, in this order:

1. ``PARDUS_TEST_POSTGRES_URL`` when set (``.ci/postgres.sh`` prints it; any SQLAlchemy or libpq
   URL of a database in which the user may create schemas);
2. else a private throwaway server started for the test session when the server binaries are
   installed (``/usr/lib/postgresql/*/bin`` or ``pg_config --bindir``): ``initdb`` into a
   temporary folder, ``pg_ctl start -w`` (which waits until the server accepts connections) on
   a free port of 127.0.0.1 with its socket in that folder, stopped and removed at the end. As
   root, the server runs as the ``postgres`` user (``runuser -u postgres --``), which owns the
   folder;
3. else the PostgreSQL cases are skipped, saying why.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

ENV = "PARDUS_TEST_POSTGRES_URL"


def _bindir() -> Path | None:
    cands = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"),
                   key=lambda p: [int(x) if x.isdigit() else 0 for x in Path(p).parts[-3].split(".")])
    if cands:
        return Path(cands[-1]).parent
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=30)
            d = Path(out.stdout.strip())
            if (d / "postgres").exists() and (d / "initdb").exists():
                return d
        except (OSError, subprocess.SubprocessError):
            pass
    d = shutil.which("postgres")
    if d and Path(d).with_name("initdb").exists():
        return Path(d).parent
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrivateServer:
    """A throwaway PostgreSQL server in a temporary folder (see the module docstring)."""

    def __init__(self, bindir: Path):
        self.bindir = bindir
        self.as_root = hasattr(os, "geteuid") and os.geteuid() == 0
        # as root the server runs as 'postgres', which must reach the folder: /tmp is world-searchable
        base = "/tmp" if self.as_root and os.path.isdir("/tmp") else None
        self.root = Path(tempfile.mkdtemp(prefix="pardus-pg-", dir=base))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = None
        self.user = "postgres"

    def _cmd(self, *args) -> list[str]:
        cmd = [str(self.bindir / args[0]), *map(str, args[1:])]
        if self.as_root:
            runuser = shutil.which("runuser")
            if runuser:
                return [runuser, "-u", "postgres", "--", *cmd]
            return [shutil.which("su") or "su", "postgres", "-s", "/bin/sh", "-c",
                    " ".join(f"'{c}'" for c in cmd)]
        return cmd

    def _run(self, *args, timeout=120):
        res = subprocess.run(self._cmd(*args), capture_output=True, text=True, timeout=timeout,
                             cwd=self.root)
        if res.returncode != 0:
            log = self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""
            raise RuntimeError(f"{' '.join(self._cmd(*args))} failed ({res.returncode}):\n"
                               f"{res.stdout}\n{res.stderr}\n{log}")
        return res

    def start(self) -> str:
        if self.as_root:
            import pwd

            try:
                pw = pwd.getpwnam("postgres")
            except KeyError:
                pytest.skip("PostgreSQL binaries are installed but there is no 'postgres' user to run "
                            f"a private server as (we are root); set {ENV} to test PostgreSQL")
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
            # the folder may sit in a private /tmp: the server user must be able to reach it
            p = self.root.parent
            while p != p.parent:
                mode = p.stat().st_mode
                if not mode & 0o001:
                    pytest.skip(f"{p} is not searchable by the postgres user, so a private server "
                                f"cannot live under it; set TMPDIR elsewhere or {ENV}")
                p = p.parent
        self._run("initdb", "-D", self.data, "-U", self.user, "--auth=trust", "-E", "UTF8",
                  "--no-sync", "--no-instructions")
        for attempt in range(5):
            self.port = _free_port()
            opts = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
                    "-c synchronous_commit=off -c full_page_writes=off")
            try:
                self._run("pg_ctl", "-D", self.data, "-l", self.log, "-w", "-t", "60", "-o", opts, "start")
                break
            except RuntimeError:
                if attempt == 4:
                    raise
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        try:
            if self.port is not None:
                self._run("pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop", timeout=60)
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_url():
    """The SQLAlchemy URL of a PostgreSQL database to make test schemas in (or skip)."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("psycopg (PostgreSQL driver) is not installed: pip install 'pardus[postgres]'")
    env = os.environ.get(ENV, "").strip()
    if env:
        from pardus.monitoring.registry.db import registry_url

        yield registry_url(env).render_as_string(hide_password=False)
        return
    bindir = _bindir()
    if bindir is None:
        pytest.skip(f"no PostgreSQL: {ENV} is not set and no server binaries were found "
                    "(/usr/lib/postgresql/*/bin/postgres, pg_config --bindir); run .ci/postgres.sh "
                    "or install Debian's postgresql package")
    server = PrivateServer(bindir)
    try:
        url = server.start()
    except BaseException:
        server.stop()
        raise
    try:
        yield url
    finally:
        server.stop()


@pytest.fixture
def fresh_pg_schema(postgres_url):
    """A fresh schema in the test database: the URL whose search_path is it."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    schema = "t_" + uuid.uuid4().hex[:16]
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as c:
            c.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = make_url(postgres_url).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def registry_url(request, tmp_path):
    """A fresh empty database on each back end: an SQLite path, or a PostgreSQL URL."""
    if request.param == "sqlite":
        yield str(tmp_path / "registry.sqlite")
    else:
        yield request.getfixturevalue("fresh_pg_schema")
