"""Opening a registry database: SQLite by default, PostgreSQL by URL, migrated with Alembic.

:func:`open_registry` takes a plain path (an SQLite file, created when missing) or a SQLAlchemy
URL (``postgresql+psycopg://user@host/db``; ``postgresql://`` and ``postgres://`` are read as
psycopg 3 too). On open the schema is brought to the newest revision this pardus knows (Alembic
``upgrade head``), or, with ``migrate=False``, a database that is not there is refused with a
message naming its revision and how to upgrade it (``pardus id migrate``, which calls
:func:`migrate`).

SQLite connections get ``PRAGMA foreign_keys = ON`` (SQLite ignores foreign keys otherwise),
write-ahead logging (``journal_mode = WAL``: readers do not block the writer; the file needs a
local disk, not a network share), ``synchronous = NORMAL`` and a 30 s busy timeout, and real
transactions (BEGIN emitted by SQLAlchemy, so that DDL and SAVEPOINTs are transactional).

Migrations live inside the package (``migrations/``); :func:`alembic_config` builds the Alembic
:class:`~alembic.config.Config` in code, so an installed pardus migrates any database without an
``alembic.ini``. A new revision (for developers)::

    from alembic import command
    from pardus.monitoring.registry.db import alembic_config
    command.revision(alembic_config("dev.sqlite"), message="add x", autogenerate=True)

(then edit the generated file under ``migrations/versions``, and keep ``models.py`` and the
migration in step: the tests compare them).
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

__all__ = [
    "MIGRATIONS_DIR",
    "RegistryError",
    "SchemaState",
    "VERSION_TABLE",
    "alembic_config",
    "create_registry_engine",
    "migrate",
    "open_registry",
    "registry_url",
    "safe_url",
    "schema_state",
]

#: Alembic's version table of the registry (named so it cannot clash with another application's
#: ``alembic_version`` in a shared PostgreSQL database).
VERSION_TABLE = "pardus_registry_version"
#: The Alembic script directory shipped inside the package.
MIGRATIONS_DIR = Path(__file__).resolve().with_name("migrations")
_PG_LOCK_KEY = 0x70617264  # "pard": the advisory lock held while migrating a PostgreSQL registry
_UPGRADE_HINT = "pardus id migrate"


class RegistryError(RuntimeError):
    """A registry operation that cannot be done as asked. The message names the thing, the
    value and the fix."""


# --------------------------------------------------------------------------------------------
# URLs and engines
# --------------------------------------------------------------------------------------------


def registry_url(url_or_path) -> URL:
    """The SQLAlchemy URL of a registry given as a path or a URL.

    A plain path (``str`` without ``://`` or :class:`os.PathLike`) is an SQLite file; the folder
    must exist. ``postgresql://`` and ``postgres://`` URLs without a driver use psycopg 3
    (``postgresql+psycopg``), the driver of ``pip install 'pardus[postgres]'``.
    """
    if isinstance(url_or_path, URL):
        url = url_or_path
    elif isinstance(url_or_path, os.PathLike) or (isinstance(url_or_path, str) and "://" not in url_or_path):
        raw = os.fspath(url_or_path)
        if not raw.strip():
            raise RegistryError("registry path is empty. Fix: give the path of an SQLite file "
                                "(e.g. registry.sqlite) or a database URL")
        path = Path(raw).expanduser().absolute()
        if path.is_dir():
            raise RegistryError(f"registry path {path} is a folder. Fix: give a file name, e.g. "
                                f"{path / 'registry.sqlite'}")
        if not path.parent.is_dir():
            raise RegistryError(f"registry path {path}: the folder {path.parent} does not exist. "
                                f"Fix: create it (mkdir -p {path.parent}) or give another path")
        return URL.create("sqlite", database=str(path))
    elif isinstance(url_or_path, str):
        text_url = url_or_path.strip()
        if text_url.startswith("postgres://"):
            text_url = "postgresql://" + text_url[len("postgres://"):]
        try:
            url = make_url(text_url)
        except ArgumentError:
            raise RegistryError(f"registry URL {_mask_raw(text_url)!r} cannot be read. Fix: give "
                                "a path, sqlite:///PATH or postgresql+psycopg://USER@HOST[:PORT]/DATABASE") from None
    else:
        raise RegistryError(f"registry location of type {type(url_or_path).__name__}. Fix: give a "
                            "path (SQLite file) or a database URL string")
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    return url


def _mask_raw(text_url: str) -> str:
    # a URL that does not parse: hide anything between ':' and '@' of the authority
    head, sep, rest = text_url.partition("://")
    if "@" in rest:
        auth, _, host = rest.rpartition("@")
        if ":" in auth:
            auth = auth.split(":", 1)[0] + ":***"
        rest = auth + "@" + host
    return head + sep + rest


def safe_url(url_or_path) -> str:
    """The registry URL as text with any password replaced by ``***``."""
    try:
        url = registry_url(url_or_path)
    except RegistryError:
        return _mask_raw(str(url_or_path))
    return url.render_as_string(hide_password=True)


def _driver_fix(url: URL) -> str:
    backend = url.get_backend_name()
    if backend == "postgresql":
        return "pip install 'pardus[postgres]' (psycopg 3), or use an SQLite file path"
    return f"install the Python driver for {url.drivername}, or use an SQLite file path"


def create_registry_engine(url_or_path, *, echo: bool = False) -> Engine:
    """An :class:`~sqlalchemy.engine.Engine` for the registry (no migration, no connection yet).

    SQLite engines get the connection settings described in the module docstring. Raises
    :class:`RegistryError` for an unknown database kind or a missing driver.
    """
    url = registry_url(url_or_path)
    shown = url.render_as_string(hide_password=True)
    try:
        engine = create_engine(url, echo=echo, pool_pre_ping=url.get_backend_name() != "sqlite")
    except NoSuchModuleError:
        raise RegistryError(f"registry URL {shown}: SQLAlchemy knows no database {url.drivername!r}. "
                            "Fix: use a path or sqlite:///PATH (SQLite) or "
                            "postgresql+psycopg://USER@HOST/DATABASE (PostgreSQL)") from None
    except ImportError as exc:
        raise RegistryError(f"registry URL {shown}: the database driver is not installed "
                            f"({exc}). Fix: {_driver_fix(url)}") from None
    if url.get_backend_name() == "sqlite":
        _sqlite_events(engine)
    return engine


def _sqlite_events(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None  # SQLAlchemy emits BEGIN itself (below)
        cur = dbapi_conn.cursor()
        try:
            cur.execute("PRAGMA foreign_keys = ON")
            cur.execute("PRAGMA busy_timeout = 30000")
            cur.execute("PRAGMA journal_mode = WAL")
            cur.execute("PRAGMA synchronous = NORMAL")
        finally:
            cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        mode = conn.get_execution_options().get("pardus_sqlite_begin", "")
        conn.exec_driver_sql(f"BEGIN {mode}".strip())


def _connect_error(url: URL, exc: Exception) -> RegistryError:
    shown = url.render_as_string(hide_password=True)
    orig = getattr(exc, "orig", None) or exc
    detail = " ".join(str(orig).strip().split("\n")[0].split()) or type(orig).__name__
    if url.get_backend_name() == "sqlite":
        if "not a database" in detail or "malformed" in detail:
            return RegistryError(f"registry {url.database}: not an SQLite database ({detail}). Fix: "
                                 "give the path of a registry file, or a new file name")
        return RegistryError(f"registry {url.database}: cannot open the SQLite file ({detail}). Fix: "
                             "check that the file and its folder are readable and writable")
    return RegistryError(f"cannot connect to the registry database {shown}: {detail}. Fix: check "
                         "that the server is running and reachable, and the host, port, user, "
                         "password and database name in the URL (a test server: .ci/postgres.sh)")


# --------------------------------------------------------------------------------------------
# Alembic
# --------------------------------------------------------------------------------------------


def alembic_config(url_or_path=None, *, connection=None):
    """The Alembic :class:`~alembic.config.Config` of the registry: ``script_location`` is the
    ``migrations`` folder inside the installed package, the version table
    :data:`VERSION_TABLE`. ``connection``: an open SQLAlchemy connection the migrations run on
    (passed to ``env.py`` in ``config.attributes``); else ``url_or_path`` is connected to."""
    from alembic.config import Config

    cfg = Config(attributes={} if connection is None else {"connection": connection})
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_table", VERSION_TABLE)
    if url_or_path is not None:
        url = registry_url(url_or_path)
        cfg.set_main_option("sqlalchemy.url",
                            url.render_as_string(hide_password=False).replace("%", "%%"))
    return cfg


def _script():
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config())


@dataclass(frozen=True)
class SchemaState:
    """Where a database stands: ``current`` (its revisions, empty when it has none), ``head``
    (the newest revision this pardus knows), ``unknown`` (revisions in the database this pardus
    does not know: written by a newer pardus), ``other_tables`` (tables of something else when
    the database has no registry revision)."""

    current: tuple[str, ...]
    head: tuple[str, ...]
    unknown: tuple[str, ...]
    other_tables: tuple[str, ...]

    @property
    def at_head(self) -> bool:
        return set(self.current) == set(self.head)

    @property
    def empty(self) -> bool:
        return not self.current and not self.other_tables


def _state(conn) -> SchemaState:
    from alembic.migration import MigrationContext

    ctx = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
    current = tuple(ctx.get_current_heads())
    script = _script()
    heads = tuple(script.get_heads())
    unknown = []
    for rev in current:
        try:
            if script.get_revision(rev) is None:
                unknown.append(rev)
        except Exception:  # alembic's ResolutionError / CommandError for an unknown id
            unknown.append(rev)
    other = ()
    if not current:
        other = tuple(sorted(t for t in inspect(conn).get_table_names() if t != VERSION_TABLE))
    return SchemaState(current, heads, tuple(unknown), other)


def _describe(revs) -> str:
    if not revs:
        return "none (no registry schema)"
    script = _script()
    out = []
    for r in revs:
        try:
            doc = (script.get_revision(r).doc or "").strip()
        except Exception:
            doc = ""
        out.append(f"{r} ({doc})" if doc else r)
    return ", ".join(out)


def _version_text() -> str:
    try:
        from pardus import __version__
    except Exception:  # pragma: no cover
        return "this pardus"
    return f"pardus {__version__}"


def _check(state: SchemaState, shown: str, *, migrate: bool) -> None:
    """Raise RegistryError for a database that cannot be used or (migrate=False) upgraded."""
    if state.unknown:
        raise RegistryError(
            f"registry {shown} is at revision {', '.join(state.unknown)}, which {_version_text()} "
            f"does not know (its newest is {', '.join(state.head)}): the database was migrated by "
            "a newer pardus. Fix: upgrade pardus (pip install -U pardus), or open a copy of the "
            "registry made before that upgrade")
    if not state.current and state.other_tables:
        listed = ", ".join(state.other_tables[:8]) + (" ..." if len(state.other_tables) > 8 else "")
        raise RegistryError(
            f"registry {shown}: the database holds tables of something else ({listed}) and no "
            f"pardus registry revision (table {VERSION_TABLE}). Fix: give an empty database or "
            "file, or an existing pardus registry")
    if not migrate and not state.at_head:
        raise RegistryError(
            f"registry {shown} is at revision {_describe(state.current)}; {_version_text()} needs "
            f"revision {_describe(state.head)}. Fix: back it up, then run `{_UPGRADE_HINT} {shown}` "
            "(or open it with migrate=True)")


@contextmanager
def _locked_transaction(engine: Engine):
    """A connection in a transaction that no other migrating process shares: BEGIN IMMEDIATE on
    SQLite, an advisory transaction lock on PostgreSQL."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            conn = conn.execution_options(pardus_sqlite_begin="IMMEDIATE")
        with conn.begin():
            if engine.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
            yield conn


def _upgrade(engine: Engine, shown: str, revision: str = "head") -> tuple[tuple[str, ...], tuple[str, ...]]:
    from alembic import command

    with _locked_transaction(engine) as conn:
        before = _state(conn)  # again, under the lock: another process may have migrated
        _check(before, shown, migrate=True)
        if revision == "head" and before.at_head:
            return before.current, before.current
        command.upgrade(alembic_config(connection=conn), revision)
        after = _state(conn)
    return before.current, after.current


def schema_state(url_or_path) -> SchemaState:
    """The :class:`SchemaState` of a registry database (nothing is changed)."""
    url = registry_url(url_or_path)
    engine = create_registry_engine(url)
    try:
        with engine.connect() as conn:
            return _state(conn)
    except DBAPIError as exc:
        raise _connect_error(url, exc) from None
    finally:
        engine.dispose()


def migrate(url_or_path, revision: str = "head") -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Upgrade a registry database to ``revision`` (default the newest); what ``pardus id
    migrate`` runs. Creates the schema in an empty database. Returns (revisions before,
    revisions after). Raises :class:`RegistryError` for a database of a newer pardus, one that
    holds other tables, or one that cannot be reached."""
    url = registry_url(url_or_path)
    shown = url.render_as_string(hide_password=True)
    engine = create_registry_engine(url)
    try:
        return _upgrade(engine, shown, revision)
    except DBAPIError as exc:
        raise _connect_error(url, exc) from None
    finally:
        engine.dispose()


def open_registry(url_or_path, *, migrate: bool = True, timezone: str | None = None,
                  echo: bool = False):
    """Open a registry: a :class:`~pardus.monitoring.registry.api.Registry` (use it as a
    context manager, or call ``close()``).

    ``url_or_path``: a path (SQLite file, created when missing) or a database URL such as
    ``postgresql+psycopg://user@host/db``. ``migrate``: bring the schema to the newest revision
    (Alembic ``upgrade head``; an empty database gets the whole schema); with ``migrate=False``
    a database not at the newest revision raises :class:`RegistryError` saying which revision it
    is at and how to upgrade. ``timezone``: an IANA name (e.g. ``Asia/Vladivostok``) in which
    naive times given to the registry (camera clocks, CSV files) are read; without it naive
    times are refused. Raises :class:`RegistryError` when the database cannot be reached (the
    message names the URL without its password), its driver is missing, or it was written by a
    newer pardus.
    """
    from .api import Registry

    url = registry_url(url_or_path)
    shown = url.render_as_string(hide_password=True)
    engine = create_registry_engine(url, echo=echo)
    try:
        try:
            with engine.connect() as conn:
                state = _state(conn)
            if migrate and not state.at_head:
                _upgrade(engine, shown)
            else:
                _check(state, shown, migrate=migrate)
        except DBAPIError as exc:
            raise _connect_error(url, exc) from None
        return Registry(engine, timezone=timezone)
    except BaseException:
        engine.dispose()
        raise
