"""Alembic environment of the pardus individual registry.

Run through :func:`pardus.monitoring.registry.db.migrate` / ``open_registry`` (which pass an open
connection in ``config.attributes["connection"]``) or through an Alembic
:class:`~alembic.config.Config` from :func:`pardus.monitoring.registry.db.alembic_config` with a
URL. The version table is ``pardus_registry_version``; SQLite migrations use batch mode (SQLite
cannot ALTER most things in place).
"""

from alembic import context

from pardus.monitoring.registry.db import VERSION_TABLE, create_registry_engine
from pardus.monitoring.registry.models import Base

config = context.config
target_metadata = Base.metadata


def _configure(**kw) -> None:
    context.configure(target_metadata=target_metadata, version_table=VERSION_TABLE,
                      compare_type=True, **kw)


def run_migrations_offline() -> None:
    """Write the SQL to stdout (``alembic upgrade --sql``) instead of running it."""
    url = config.get_main_option("sqlalchemy.url")
    _configure(url=url, literal_binds=True, dialect_opts={"paramstyle": "named"},
               render_as_batch=url.startswith("sqlite"))
    with context.begin_transaction():
        context.run_migrations()


def _run(connection) -> None:
    _configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_registry_engine(config.get_main_option("sqlalchemy.url"))
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
