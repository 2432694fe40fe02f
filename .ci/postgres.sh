#!/usr/bin/env bash
# A PostgreSQL server for the registry tests (tests/unit/test_registry.py).
#
#   eval "$(.ci/postgres.sh)"     # sets PARDUS_TEST_POSTGRES_URL
#
# Idempotent: installs Debian's postgresql package when the server is missing and we are root
# with apt-get; starts the Debian cluster (pg_ctlcluster) when we are root and one exists, else a
# private server in $PARDUS_PG_DIR (default /tmp/pardus-ci-postgres-$UID) on $PARDUS_PG_PORT
# (default 55432); waits until it accepts connections (pg_isready); creates the role and the
# database of the tests when missing; checks that the role can log in over TCP; then prints
# one line, `export PARDUS_TEST_POSTGRES_URL=...`, on stdout (everything else goes to stderr).
# Exits non-zero, printing nothing on stdout, when no server can be had.
#
# Settings: PARDUS_PG_ROLE (pardus), PARDUS_PG_PASSWORD (pardus), PARDUS_PG_DATABASE
# (pardus_test), PARDUS_PG_DIR, PARDUS_PG_PORT. The role owns the database, so the tests may
# create a schema per test in it.
set -euo pipefail

ROLE=${PARDUS_PG_ROLE:-pardus}
PASSWORD=${PARDUS_PG_PASSWORD:-pardus}
DB=${PARDUS_PG_DATABASE:-pardus_test}
PRIVATE_DIR=${PARDUS_PG_DIR:-/tmp/pardus-ci-postgres-$(id -u)}
PRIVATE_PORT=${PARDUS_PG_PORT:-55432}

log() { echo "postgres.sh: $*" >&2; }
die() { log "$*"; exit 1; }
is_root() { [ "$(id -u)" = 0 ]; }

case "$ROLE$DB" in *[!A-Za-z0-9_]*) die "PARDUS_PG_ROLE and PARDUS_PG_DATABASE may hold letters, digits and _ only";; esac
case "$PASSWORD" in *"'"*|*"@"*|*":"*|*"/"*|*"%"*) die "PARDUS_PG_PASSWORD may not contain ' @ : / %";; esac

find_bindir() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$d/postgres" ] && [ -x "$d/initdb" ]; then echo "$d"; return 0; fi
  done
  if command -v pg_config >/dev/null 2>&1; then
    d=$(pg_config --bindir 2>/dev/null || true)
    if [ -n "$d" ] && [ -x "$d/postgres" ] && [ -x "$d/initdb" ]; then echo "$d"; return 0; fi
  fi
  return 1
}

if ! BINDIR=$(find_bindir); then
  if is_root && command -v apt-get >/dev/null 2>&1; then
    log "installing Debian's postgresql package"
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; } >&2; then
      die "installing postgresql with apt-get failed"
    fi
    BINDIR=$(find_bindir) || die "postgresql is installed but its server binaries are not in /usr/lib/postgresql/*/bin"
  else
    die "no PostgreSQL server binaries (/usr/lib/postgresql/*/bin, pg_config --bindir) and no way to install them (needs root and apt-get)"
  fi
fi
log "server binaries: $BINDIR"

# run a command as the database superuser's OS account
as_pg() {
  if is_root; then runuser -u postgres -- "$@"; else "$@"; fi
}

wait_ready() {  # host port: poll pg_isready until the server accepts connections (60 s at most)
  local i
  for i in $(seq 1 120); do
    if "$BINDIR/pg_isready" -q -h "$1" -p "$2" -t 2; then return 0; fi
    sleep 0.5
  done
  return 1
}

SOCKDIR= PORT=
if is_root && command -v pg_lsclusters >/dev/null 2>&1 && [ -n "$(pg_lsclusters -h 2>/dev/null)" ]; then
  # the Debian cluster of the newest version
  read -r VER NAME PORT STATUS _ < <(pg_lsclusters -h | sort -V -r -k1,1 | head -n1)
  SOCKDIR=/var/run/postgresql
  if [ "${STATUS%%,*}" != online ]; then
    log "starting the Debian cluster $VER $NAME (port $PORT)"
    pg_ctlcluster "$VER" "$NAME" start >&2 || die "pg_ctlcluster $VER $NAME start failed (see /var/log/postgresql/postgresql-$VER-$NAME.log)"
  else
    log "the Debian cluster $VER $NAME is running (port $PORT)"
  fi
else
  # a private server of our own
  PORT=$PRIVATE_PORT
  SOCKDIR=$PRIVATE_DIR
  if is_root; then
    getent passwd postgres >/dev/null || die "running as root without a 'postgres' user to own a private server"
  fi
  mkdir -p "$PRIVATE_DIR"
  if is_root; then chown postgres: "$PRIVATE_DIR"; fi
  chmod 700 "$PRIVATE_DIR"
  if [ ! -f "$PRIVATE_DIR/data/PG_VERSION" ]; then
    log "creating a private server in $PRIVATE_DIR"
    as_pg "$BINDIR/initdb" -D "$PRIVATE_DIR/data" -U postgres --auth=trust -E UTF8 >&2 || die "initdb failed"
  fi
  if as_pg "$BINDIR/pg_ctl" -D "$PRIVATE_DIR/data" status >/dev/null 2>&1; then
    log "the private server in $PRIVATE_DIR is running (port $PORT)"
  else
    log "starting the private server in $PRIVATE_DIR (port $PORT)"
    as_pg "$BINDIR/pg_ctl" -D "$PRIVATE_DIR/data" -l "$PRIVATE_DIR/server.log" -w -t 60 \
      -o "-p $PORT -k $PRIVATE_DIR -c listen_addresses=127.0.0.1" start >&2 \
      || die "the private server did not start (see $PRIVATE_DIR/server.log)"
  fi
fi
wait_ready "$SOCKDIR" "$PORT" || die "the server on port $PORT does not accept connections"

psql_admin() {
  as_pg "$BINDIR/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h "$SOCKDIR" -p "$PORT" -U postgres -d postgres "$@"
}
psql_admin -c "DO \$\$BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$ROLE') THEN
    CREATE ROLE $ROLE LOGIN PASSWORD '$PASSWORD';
  ELSE
    ALTER ROLE $ROLE LOGIN PASSWORD '$PASSWORD';
  END IF;
END\$\$;" >&2 || die "cannot create the role $ROLE"
if [ "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = '$DB'")" != 1 ]; then
  log "creating the database $DB"
  psql_admin -c "CREATE DATABASE $DB OWNER $ROLE" >&2 || die "cannot create the database $DB"
fi

URL_LIBPQ="postgresql://$ROLE:$PASSWORD@127.0.0.1:$PORT/$DB"
"$BINDIR/psql" -X -q -A -t -v ON_ERROR_STOP=1 "$URL_LIBPQ" -c "SELECT 1" >/dev/null \
  || die "the role $ROLE cannot log in to $DB on 127.0.0.1:$PORT (check pg_hba.conf)"
log "ready: database $DB on 127.0.0.1:$PORT for role $ROLE"
echo "export PARDUS_TEST_POSTGRES_URL='postgresql+psycopg://$ROLE:$PASSWORD@127.0.0.1:$PORT/$DB'"
