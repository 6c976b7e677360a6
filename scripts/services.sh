#!/usr/bin/env bash
# scripts/services.sh — real database servers for BytePort's integration tests.
#
# Starts PostgreSQL 15, pgbouncer and MariaDB on 127.0.0.1 without systemd, as the `postgres`
# and `mysql` system users, with all state under one directory. Installs the missing Debian
# packages first (as root). Safe to run again: services that are already up and healthy are kept.
#
#   bash scripts/services.sh up     [--lease NAME [--pid PID]]   install if needed, start, print nothing on stdout
#   bash scripts/services.sh down   [--lease NAME]               stop (see "Leases" below)
#   bash scripts/services.sh status                              one line per service, plus the leases
#   bash scripts/services.sh env                                 connection settings as KEY=VALUE lines
#
# State dir: $BYTEPORT_SERVICES_DIR, default <repo>/.services (gitignored). Keep it short: Unix
# socket paths must stay under ~100 bytes.
#
# Fixed ports (all on 127.0.0.1, below the Linux ephemeral range 32768-60999 so an outgoing
# connection can never be holding them), each overridable:
#   PostgreSQL  BYTEPORT_PG_PORT         25432
#   pgbouncer   BYTEPORT_PGBOUNCER_PORT  26432
#   MariaDB     BYTEPORT_MYSQL_PORT      23306
#   PostgreSQL streaming replica (service "pgreplica")  BYTEPORT_PG_REPLICA_PORT  25433
#   sshd        BYTEPORT_SSHD_PORT       22022
#
# Leases: several test runs (several engineers, one machine) share one set of servers. `up --lease
# NAME --pid PID` records that process PID uses them; `down --lease NAME` drops that lease and
# stops the servers only when no live lease is left (leases of dead processes are pruned). A plain
# `up` records the lease "manual" (no pid), so servers you started by hand outlive test runs.
# A plain `down` stops everything, whatever the leases.
#
# The replica is a hot standby of the test PostgreSQL (pg_basebackup -R -X stream, physical
# streaming replication as the role `replicator`); it is re-created whenever the primary starts.
# Its primary_conninfo is reloadable (PostgreSQL 13+): tests point it at a fault proxy with
# ALTER SYSTEM SET primary_conninfo + pg_reload_conf().
#
# Other knobs: BYTEPORT_SERVICES (subset of "postgres pgbouncer mariadb pgreplica sshd hosttools"), BYTEPORT_SKIP_INSTALL=1
# (never call apt-get), BYTEPORT_PGBOUNCER_POOL_SIZE (default 4), BYTEPORT_MYSQL_MAX_CONNECTIONS (100),
# BYTEPORT_PG_MAX_CONNECTIONS (100).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
STATE=${BYTEPORT_SERVICES_DIR:-$REPO/.services}
SERVICES=${BYTEPORT_SERVICES:-"postgres pgbouncer mariadb pgreplica"}

PG_PORT=${BYTEPORT_PG_PORT:-25432}
PGB_PORT=${BYTEPORT_PGBOUNCER_PORT:-26432}
MY_PORT=${BYTEPORT_MYSQL_PORT:-23306}
PGR_PORT=${BYTEPORT_PG_REPLICA_PORT:-25433}
PGB_POOL_SIZE=${BYTEPORT_PGBOUNCER_POOL_SIZE:-4}
PG_MAX_CONN=${BYTEPORT_PG_MAX_CONNECTIONS:-100}
MY_MAX_CONN=${BYTEPORT_MYSQL_MAX_CONNECTIONS:-100}
# sshd (Debian's openssh-server, no systemd) is a default service too; BYTEPORT_SERVICES still selects.
[[ -z ${BYTEPORT_SERVICES:-} ]] && SERVICES+=" sshd hosttools"
SSHD_PORT=${BYTEPORT_SSHD_PORT:-22022}

# --- TLS servers (issue 15) -----------------------------------------------------------------------
# Two Pebbles (ACME test CAs) on one pebble-challtestsrv (mock DNS: every name is 127.0.0.1),
# an OCSP responder (Node, signs with the short Pebble's intermediate key), nginx, haproxy, caddy
# and certbot. Ports, each overridable:
#   pebble (renewal CA, default validity)  BYTEPORT_PEBBLE_PORT 24000, BYTEPORT_PEBBLE_MGMT_PORT 24001
#   pebble-short (initial CA, 5 days, OCSP) BYTEPORT_PEBBLE_SHORT_PORT 24010, BYTEPORT_PEBBLE_SHORT_MGMT_PORT 24011
#   pebble-challtestsrv  BYTEPORT_CHALLTESTSRV_DNS_PORT 24053, BYTEPORT_CHALLTESTSRV_MGMT_PORT 24055
#   http-01 (= nginx http, serving the webroot) BYTEPORT_ACME_HTTP_PORT 24080; tls-alpn-01 BYTEPORT_ACME_TLS_PORT 24081
#   OCSP responder  BYTEPORT_OCSP_PORT 24088
#   nginx https BYTEPORT_NGINX_TLS_PORT 24443; haproxy https BYTEPORT_HAPROXY_TLS_PORT 24444;
#   caddy https BYTEPORT_CADDY_TLS_PORT 24445, caddy admin BYTEPORT_CADDY_ADMIN_PORT 24019
# BYTEPORT_PEBBLE_SHORT_VALIDITY_S (default 432000 = 5 days). The TLS services join the default
# service list unless BYTEPORT_SERVICES is set.
TLS_SERVICES="pebble ocsp nginx haproxy caddy certbot"
[[ -z ${BYTEPORT_SERVICES:-} ]] && SERVICES+=" $TLS_SERVICES"
PEBBLE_PORT=${BYTEPORT_PEBBLE_PORT:-24000}
PEBBLE_MGMT_PORT=${BYTEPORT_PEBBLE_MGMT_PORT:-24001}
PEBBLE_SHORT_PORT=${BYTEPORT_PEBBLE_SHORT_PORT:-24010}
PEBBLE_SHORT_MGMT_PORT=${BYTEPORT_PEBBLE_SHORT_MGMT_PORT:-24011}
PEBBLE_SHORT_VALIDITY=${BYTEPORT_PEBBLE_SHORT_VALIDITY_S:-432000}
CTS_DNS_PORT=${BYTEPORT_CHALLTESTSRV_DNS_PORT:-24053}
CTS_MGMT_PORT=${BYTEPORT_CHALLTESTSRV_MGMT_PORT:-24055}
ACME_HTTP_PORT=${BYTEPORT_ACME_HTTP_PORT:-24080}
ACME_TLS_PORT=${BYTEPORT_ACME_TLS_PORT:-24081}
OCSP_PORT=${BYTEPORT_OCSP_PORT:-24088}
NGINX_TLS_PORT=${BYTEPORT_NGINX_TLS_PORT:-24443}
HAPROXY_TLS_PORT=${BYTEPORT_HAPROXY_TLS_PORT:-24444}
CADDY_TLS_PORT=${BYTEPORT_CADDY_TLS_PORT:-24445}
CADDY_ADMIN_PORT=${BYTEPORT_CADDY_ADMIN_PORT:-24019}

# Test-only credentials (throwaway servers on loopback). Alphanumeric so URLs need no escaping.
PG_SUPER_PW=pgSuperTest7
PG_APP_PW=pgAppTest7
PG_AGENT_PW=pgAgentTest7
PGB_ADMIN_PW=pgbAdminTest7
MY_ADMIN_PW=myAdminTest7
MY_APP_PW=myAppTest7
MY_AGENT_PW=myAgentTest7
PG_REPL_PW=pgReplTest7

# Never let inherited client settings redirect our own psql / mariadb calls.
unset PGHOST PGHOSTADDR PGPORT PGUSER PGPASSWORD PGDATABASE PGSERVICE PGSSLMODE PGOPTIONS PGPASSFILE \
      MYSQL_HOST MYSQL_TCP_PORT MYSQL_UNIX_PORT MYSQL_PWD

now_ms() { date +%s%3N; }
log() { printf '[services %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
has() { [[ " $SERVICES " == *" $1 "* ]]; }
IS_ROOT=0; [[ $(id -u) == 0 ]] && IS_ROOT=1
as_user() { local u=$1; shift; if ((IS_ROOT)); then runuser -u "$u" -- "$@"; else "$@"; fi; }
PG_OS_USER=postgres; MY_OS_USER=mysql
((IS_ROOT)) || { PG_OS_USER=$(id -un); MY_OS_USER=$(id -un); }

# alive PID: exists and is not a zombie (PID 1 here may reap orphans late)
alive() { [[ -n ${1:-} ]] && kill -0 "$1" 2>/dev/null && [[ $(sed -n 's/.*) \(.\).*/\1/p' "/proc/$1/stat" 2>/dev/null) != Z ]]; }
cmdline() { tr '\0' ' ' < "/proc/$1/cmdline" 2>/dev/null; }
pid_from() { [[ -f $1 ]] && head -1 "$1" 2>/dev/null | tr -dc 0-9; }
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_for() { # wait_for NAME TIMEOUT_S cmd...
  local name=$1 timeout=$2 t0; shift 2; t0=$(now_ms)
  until "$@" >/dev/null 2>&1; do
    (( $(now_ms) - t0 > timeout * 1000 )) && { log "$name not ready after ${timeout}s"; return 1; }
    sleep 0.05
  done
}

PG_BIN=""
find_pg_bin() {
  [[ -n $PG_BIN ]] && return 0
  PG_BIN=${BYTEPORT_PG_BIN:-/usr/lib/postgresql/15/bin}
  [[ -x $PG_BIN/postgres ]] || PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [[ -n $PG_BIN && -x $PG_BIN/postgres ]]
}

# ------------------------------------------------------------------------------ install
ensure_packages() {
  # fast path: every binary we run is already there
  local fast=1
  if has postgres || has pgreplica; then find_pg_bin || fast=0; command -v psql >/dev/null || fast=0; fi
  if has pgreplica; then command -v strace >/dev/null || fast=0; fi # the replica tests slow its replay with strace
  if has pgbouncer; then command -v pgbouncer >/dev/null && command -v psql >/dev/null || fast=0; fi
  if has mariadb; then command -v mariadbd >/dev/null && command -v mariadb-install-db >/dev/null && command -v mariadb-admin >/dev/null || fast=0; fi
  if has sshd; then [[ -x /usr/sbin/sshd ]] && command -v ssh-keygen >/dev/null && command -v ssh >/dev/null && command -v sudo >/dev/null || fast=0; fi
  if has hosttools; then hosttools_ok || fast=0; fi
  ((fast)) && return 0
  local want=() missing=() p
  { has postgres || has pgreplica; } && want+=(postgresql-15 postgresql-client-15)
  has pgreplica && want+=(strace)
  has pgbouncer && want+=(pgbouncer postgresql-client-15)
  has mariadb && want+=(mariadb-server mariadb-client)
  has sshd && want+=(openssh-server openssh-client openssh-sftp-server sudo)
  has hosttools && want+=(logrotate systemd-journal-remote openjdk-17-jdk-headless)
  for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  [[ ${BYTEPORT_SKIP_INSTALL:-0} == 1 ]] && die "missing packages: ${missing[*]} (BYTEPORT_SKIP_INSTALL=1)"
  ((IS_ROOT)) || die "missing packages: ${missing[*]}; run once as root to install them"
  local t0; t0=$(now_ms)
  log "installing ${missing[*]} (log: $STATE/apt.log)"
  # No postinst may start a server on a default port: a policy-rc.d that denies every start.
  local made_policy=0
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; made_policy=1
  fi
  local rc=0
  {
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 -q update &&
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 -y -q --no-install-recommends install "${missing[@]}"
  } >"$STATE/apt.log" 2>&1 || rc=$?
  ((made_policy)) && rm -f /usr/sbin/policy-rc.d
  if ((rc)); then tail -20 "$STATE/apt.log" >&2; die "apt-get install ${missing[*]} failed"; fi
  log "installed in $(( $(now_ms) - t0 )) ms"
}

# ------------------------------------------------------------------------------ health
# Templates are keyed by this script's content and the installed server versions.
template_key() {
  { sha256sum "${BASH_SOURCE[0]}"; dpkg-query -W -f='${Version}' postgresql-15 mariadb-server 2>/dev/null; } | sha256sum | cut -c1-12
}
pg_pid() { pid_from "$STATE/pg/data/postmaster.pid"; }
pgb_pid() { pid_from "$STATE/pgbouncer/pgbouncer.pid"; }
my_pid() { pid_from "$STATE/mariadb/mariadbd.pid"; }
pgr_pid() { pid_from "$STATE/pgreplica/data/postmaster.pid"; }
pgr_ours() { local p; p=$(pgr_pid); alive "$p" && [[ $(cmdline "$p") == *"$STATE/pgreplica/data"* ]]; }
pgr_sql() { as_user "$PG_OS_USER" psql -X -qtA -h "$STATE/pgreplica" -p "$PGR_PORT" -U postgres -d postgres -c "$1" 2>/dev/null; }
# up, accepting connections and in recovery (a test may have pointed it at a paused fault proxy:
# still healthy, never restarted under a running test)
pgr_probe() { find_pg_bin && "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PGR_PORT" -t 2 && [[ $(pgr_sql "SELECT pg_is_in_recovery()") == t ]]; }
pgr_streaming() { pgr_probe && [[ $(pgr_sql "SELECT count(*) FROM pg_stat_wal_receiver WHERE status = 'streaming'") == 1 ]]; }
pgr_healthy() { pgr_ours && pgr_probe; }
pg_ours() { local p; p=$(pg_pid); alive "$p" && [[ $(cmdline "$p") == *"$STATE/pg/data"* ]]; }
pgb_ours() { local p; p=$(pgb_pid); alive "$p" && [[ $(cmdline "$p") == *"$STATE/pgbouncer/"* ]]; }
my_ours() { local p; p=$(my_pid); alive "$p" && [[ $(cmdline "$p") == *"$STATE/mariadb/data"* ]]; }
pg_probe() { find_pg_bin && "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -t 2; }
pgb_probe() {
  PGPASSWORD=$PGB_ADMIN_PW PGCONNECT_TIMEOUT=2 psql -X -q -tA -h 127.0.0.1 -p "$PGB_PORT" -U pgbouncer_admin \
    -d pgbouncer -c 'SHOW VERSION' >/dev/null 2>&1
}
my_probe() { mariadb-admin --no-defaults --protocol=socket -S "$STATE/mariadb/mysqld.sock" -uroot --connect-timeout=2 ping >/dev/null 2>&1; }
pg_healthy() { pg_ours && pg_probe; }
pgb_healthy() { pgb_ours && pgb_probe; }
my_healthy() { my_ours && my_probe; }

# ------------------------------------------------------------------------------ stop
# stop_pid NAME PID PATTERN SIGNAL TIMEOUT_S: signal only a process whose command line matches.
stop_pid() {
  local name=$1 pid=$2 pattern=$3 sig=$4 timeout=$5 t0
  alive "$pid" || return 0
  [[ $(cmdline "$pid") == *"$pattern"* ]] || { log "$name: pid $pid is not ours; not touching it"; return 0; }
  t0=$(now_ms)
  kill "-$sig" "$pid" 2>/dev/null || true
  while alive "$pid"; do
    if (( $(now_ms) - t0 > timeout * 1000 )); then
      log "$name: pid $pid still alive after ${timeout}s, sending KILL"; kill -KILL "$pid" 2>/dev/null || true; sleep 0.2
      alive "$pid" && { log "$name: could not stop pid $pid"; return 1; }
      break
    fi
    sleep 0.05
  done
  log "$name stopped ($(( $(now_ms) - t0 )) ms)"
}
stop_pgbouncer() { stop_pid pgbouncer "$(pgb_pid)" "$STATE/pgbouncer/" TERM 10; rm -f "$STATE/pgbouncer/pgbouncer.pid"; }
# SIGINT = PostgreSQL "fast" shutdown; kills the backends of this postmaster too.
stop_postgres() { stop_pid postgres "$(pg_pid)" "$STATE/pg/data" INT 30; }
stop_mariadb() { stop_pid mariadb "$(my_pid)" "$STATE/mariadb/data" TERM 60; rm -f "$STATE/mariadb/mariadbd.pid"; }
stop_pgreplica() { stop_pid pgreplica "$(pgr_pid)" "$STATE/pgreplica/data" INT 30; }
stop_all() { stop_pgbouncer; stop_pgreplica; stop_postgres; stop_mariadb; stop_sshd; tls_stop; rm -f "$STATE/services.env"; }

# ------------------------------------------------------------------------------ start
start_postgres() {
  find_pg_bin || die "PostgreSQL binaries not found under /usr/lib/postgresql/*/bin"
  local D=$STATE/pg t0; t0=$(now_ms)
  stop_postgres
  port_free "$PG_PORT" || die "port $PG_PORT (PostgreSQL) on 127.0.0.1 is in use; set BYTEPORT_PG_PORT"
  rm -rf "$D"; mkdir -p "$D"; ((IS_ROOT)) && chown "$PG_OS_USER": "$D"; chmod 700 "$D"
  # A pristine initdb output is kept as a template: later cold starts copy it instead of re-running initdb.
  local T=$STATE/template/pg-$(template_key)
  if [[ ! -f $T/PG_VERSION ]]; then
    printf '%s\n' "$PG_SUPER_PW" > "$D/.pw"; ((IS_ROOT)) && chown "$PG_OS_USER": "$D/.pw"; chmod 600 "$D/.pw"
    as_user "$PG_OS_USER" "$PG_BIN/initdb" -D "$D/data" -U postgres --pwfile="$D/.pw" --auth-local=trust \
      --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 --no-sync >"$D/initdb.log" 2>&1 \
      || { rm -f "$D/.pw"; tail -20 "$D/initdb.log" >&2; die "initdb failed"; }
    rm -f "$D/.pw"
    rm -rf "$STATE"/template/pg-*; mkdir -p "$STATE/template"; cp -a "$D/data" "$T.tmp" && mv "$T.tmp" "$T"
  else
    cp -a "$T" "$D/data" || die "copying the PostgreSQL template failed"
  fi
  cat >>"$D/data/postgresql.conf" <<EOF
# --- BytePort test server (scripts/services.sh) ---
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$D'
max_connections = $PG_MAX_CONN
superuser_reserved_connections = 3
shared_buffers = 32MB
fsync = off
synchronous_commit = off
full_page_writes = off
shared_preload_libraries = 'pg_stat_statements'
compute_query_id = on
log_line_prefix = '%m [%p] %q%u@%d/%a '
# streaming replication to the test replica (service pgreplica)
wal_level = replica
max_wal_senders = 10
wal_keep_size = 256MB
EOF
  # clients from any loopback address (tests give sessions distinct source addresses, 127.0.0.2 …,
  # standing for pod IPs: db.connections.saturation's per-workload gate)
  echo "host all all 127.0.0.0/8 scram-sha-256" >>"$D/data/pg_hba.conf"
  as_user "$PG_OS_USER" "$PG_BIN/pg_ctl" -D "$D/data" -l "$D/postgres.log" -w -t 60 start >/dev/null 9>&- \
    || { tail -20 "$D/postgres.log" >&2; die "PostgreSQL failed to start"; }
  wait_for postgres 30 pg_probe || die "PostgreSQL not ready (see $D/postgres.log)"
  # app: an ordinary application role; agent: what BytePort itself runs as (sees every session,
  # may signal non-superuser backends, is not a superuser).
  as_user "$PG_OS_USER" psql -X -q -v ON_ERROR_STOP=1 -h "$D" -p "$PG_PORT" -U postgres -d postgres >/dev/null <<EOF || die "creating PostgreSQL roles failed"
CREATE ROLE app LOGIN PASSWORD '$PG_APP_PW';
CREATE ROLE byteport_agent LOGIN PASSWORD '$PG_AGENT_PW' IN ROLE pg_monitor, pg_signal_backend;
CREATE DATABASE appdb OWNER app;
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
CREATE ROLE replicator LOGIN REPLICATION PASSWORD '$PG_REPL_PW';
EOF
  log "postgres ready on 127.0.0.1:$PG_PORT ($(( $(now_ms) - t0 )) ms)"
}

# A hot standby of the test PostgreSQL: pg_basebackup -R (standby.signal + primary_conninfo)
# -X stream, on its own port and socket directory.
start_pgreplica() {
  find_pg_bin || die "PostgreSQL binaries not found under /usr/lib/postgresql/*/bin"
  local R=$STATE/pgreplica t0; t0=$(now_ms)
  stop_pgreplica
  port_free "$PGR_PORT" || die "port $PGR_PORT (PostgreSQL replica) on 127.0.0.1 is in use; set BYTEPORT_PG_REPLICA_PORT"
  rm -rf "$R"; mkdir -p "$R"; ((IS_ROOT)) && chown "$PG_OS_USER": "$R"; chmod 700 "$R"
  as_user "$PG_OS_USER" env PGPASSWORD="$PG_REPL_PW" "$PG_BIN/pg_basebackup" -h 127.0.0.1 -p "$PG_PORT" -U replicator \
    -D "$R/data" -R -X stream -c fast --no-sync >"$R/basebackup.log" 2>&1 \
    || { tail -20 "$R/basebackup.log" >&2; die "pg_basebackup failed"; }
  # The copied postgresql.conf is the primary's; the lines below override its port and socket.
  # max_standby_streaming_delay stays PostgreSQL's default (30 s): tests set it per scenario.
  # primary_conninfo (written by -R to postgresql.auto.conf) is repeated here, so a test's
  # ALTER SYSTEM RESET primary_conninfo falls back to the primary, not to no upstream at all.
  local conninfo; conninfo=$(sed -n "s/^primary_conninfo = //p" "$R/data/postgresql.auto.conf")
  [[ -n $conninfo ]] || die "pg_basebackup -R wrote no primary_conninfo"
  cat >>"$R/data/postgresql.conf" <<EOF
# --- BytePort test replica (scripts/services.sh) ---
primary_conninfo = $conninfo
port = $PGR_PORT
unix_socket_directories = '$R'
hot_standby = on
hot_standby_feedback = off
wal_receiver_status_interval = 1s
EOF
  as_user "$PG_OS_USER" "$PG_BIN/pg_ctl" -D "$R/data" -l "$R/postgres.log" -w -t 60 start >/dev/null 9>&- \
    || { tail -20 "$R/postgres.log" >&2; die "the PostgreSQL replica failed to start"; }
  wait_for pgreplica 30 pgr_streaming || { tail -20 "$R/postgres.log" >&2; die "the PostgreSQL replica is not streaming (see $R/postgres.log)"; }
  log "pgreplica ready on 127.0.0.1:$PGR_PORT, streaming from :$PG_PORT ($(( $(now_ms) - t0 )) ms)"
}

start_pgbouncer() {
  local B=$STATE/pgbouncer t0; t0=$(now_ms)
  stop_pgbouncer
  port_free "$PGB_PORT" || die "port $PGB_PORT (pgbouncer) on 127.0.0.1 is in use; set BYTEPORT_PGBOUNCER_PORT"
  rm -rf "$B"; mkdir -p "$B"
  # Transaction pooling: the mode production deployments run, and the one in which an
  # idle-in-transaction client pins a server connection (the pathology the runbooks detect).
  # A small default_pool_size makes saturation (cl_waiting > 0) cheap to create in tests.
  cat >"$B/pgbouncer.ini" <<EOF
;; BytePort test pgbouncer (scripts/services.sh)
[databases]
appdb = host=127.0.0.1 port=$PG_PORT dbname=appdb
postgres = host=127.0.0.1 port=$PG_PORT dbname=postgres

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $PGB_PORT
unix_socket_dir =
auth_type = scram-sha-256
auth_file = $B/userlist.txt
admin_users = pgbouncer_admin
stats_users = byteport_agent
pool_mode = transaction
default_pool_size = $PGB_POOL_SIZE
max_client_conn = 200
ignore_startup_parameters = extra_float_digits,options
application_name_add_host = 0
logfile = $B/pgbouncer.log
pidfile = $B/pgbouncer.pid
EOF
  printf '"app" "%s"\n"postgres" "%s"\n"byteport_agent" "%s"\n"pgbouncer_admin" "%s"\n' \
    "$PG_APP_PW" "$PG_SUPER_PW" "$PG_AGENT_PW" "$PGB_ADMIN_PW" > "$B/userlist.txt"
  chmod 600 "$B/userlist.txt"; chmod 644 "$B/pgbouncer.ini"
  ((IS_ROOT)) && chown -R "$PG_OS_USER": "$B"
  # Tests (running as root) edit pgbouncer.ini in place; pgbouncer (as postgres) must still read
  # it and the timestamped backups written beside it.
  as_user "$PG_OS_USER" pgbouncer -q -d "$B/pgbouncer.ini" 9>&- || { tail -20 "$B/pgbouncer.log" >&2; die "pgbouncer failed to start"; }
  wait_for pgbouncer 30 pgb_probe || die "pgbouncer not ready (see $B/pgbouncer.log)"
  log "pgbouncer ready on 127.0.0.1:$PGB_PORT ($(( $(now_ms) - t0 )) ms)"
}

start_mariadb() {
  local M=$STATE/mariadb t0; t0=$(now_ms)
  stop_mariadb
  port_free "$MY_PORT" || die "port $MY_PORT (MariaDB) on 127.0.0.1 is in use; set BYTEPORT_MYSQL_PORT"
  rm -rf "$M"; mkdir -p "$M"; ((IS_ROOT)) && chown "$MY_OS_USER": "$M"; chmod 750 "$M"
  local T=$STATE/template/mariadb-$(template_key)
  if [[ ! -d $T/mysql ]]; then
    mariadb-install-db --no-defaults --user="$MY_OS_USER" --datadir="$M/data" --auth-root-authentication-method=normal \
      --skip-test-db --skip-name-resolve >"$M/install-db.log" 2>&1 || { tail -20 "$M/install-db.log" >&2; die "mariadb-install-db failed"; }
    rm -rf "$STATE"/template/mariadb-*; mkdir -p "$STATE/template"; cp -a "$M/data" "$T.tmp" && mv "$T.tmp" "$T"
  else
    cp -a "$T" "$M/data" || die "copying the MariaDB template failed"
  fi
  # mariadbd does not daemonize; --user makes it drop root itself. performance_schema stays OFF
  # (MariaDB's default): BytePort must not depend on it.
  nohup mariadbd --no-defaults --user="$MY_OS_USER" --datadir="$M/data" --port="$MY_PORT" --bind-address=127.0.0.1 \
    --socket="$M/mysqld.sock" --pid-file="$M/mysqld.pid" --log-error="$M/error.log" --skip-name-resolve \
    --max-connections="$MY_MAX_CONN" --innodb-buffer-pool-size=32M --innodb-log-file-size=16M \
    --innodb-flush-log-at-trx-commit=0 --innodb-doublewrite=0 --sync-binlog=0 --skip-log-bin \
    </dev/null >/dev/null 2>&1 9>&- &
  echo $! > "$M/mariadbd.pid"
  wait_for mariadb 60 my_probe || { tail -20 "$M/error.log" >&2; die "MariaDB not ready"; }
  # byteport_admin: root-equivalent. app: an application user without SUPER / CONNECTION ADMIN.
  # byteport_agent: what BytePort runs as (sees every thread, may kill them).
  mariadb --no-defaults --protocol=socket -S "$M/mysqld.sock" -uroot <<EOF || die "creating MariaDB users failed"
CREATE USER 'byteport_admin'@'%' IDENTIFIED BY '$MY_ADMIN_PW';
GRANT ALL PRIVILEGES ON *.* TO 'byteport_admin'@'%' WITH GRANT OPTION;
CREATE DATABASE appdb;
CREATE USER 'app'@'%' IDENTIFIED BY '$MY_APP_PW';
GRANT ALL PRIVILEGES ON appdb.* TO 'app'@'%';
CREATE USER 'byteport_agent'@'%' IDENTIFIED BY '$MY_AGENT_PW';
GRANT PROCESS, CONNECTION ADMIN ON *.* TO 'byteport_agent'@'%';
GRANT SELECT ON appdb.* TO 'byteport_agent'@'%';
-- read access to the grant tables, so USER_PRIVILEGES shows every user's SUPER / CONNECTION ADMIN
GRANT SELECT ON mysql.* TO 'byteport_agent'@'%';
EOF
  log "mariadb ready on 127.0.0.1:$MY_PORT ($(( $(now_ms) - t0 )) ms)"
}

# ------------------------------------------------------------------------------ host tools
# Not servers: the programs @byteport/host's runbook tests drive for real (logrotate, journal files
# written by systemd-journal-remote and read with `journalctl --directory`, a JDK's jcmd).
# "Up" when the binaries are there.
JOURNAL_REMOTE=/lib/systemd/systemd-journal-remote
hosttools_ok() { command -v logrotate >/dev/null && [[ -x $JOURNAL_REMOTE ]] && command -v journalctl >/dev/null && command -v jcmd >/dev/null; }

# ------------------------------------------------------------------------------ sshd
# Debian's openssh-server on 127.0.0.1 for the `Ssh` / `HostFs` tests, without systemd:
# `sshd -D -e -f <cfg>` in the foreground (our own HostKey, AuthorizedKeysFile, PidFile, UsePAM no),
# ready once it logged "Server listening on". Logins: the user running this script (root here),
# key only, with a client key and a known_hosts file generated here for the tests.
sshd_pid() { pid_from "$STATE/sshd/sshd.pid"; }
sshd_ours() { local p; p=$(sshd_pid); alive "$p" && [[ $(cmdline "$p") == *"$STATE/sshd/sshd_config"* ]]; }
sshd_probe() {
  local S=$STATE/sshd
  ssh -F /dev/null -n -o BatchMode=yes -o ConnectTimeout=2 -o IdentitiesOnly=yes -o IdentityAgent=none \
    -o StrictHostKeyChecking=yes -o "UserKnownHostsFile=$S/known_hosts" -o GlobalKnownHostsFile=/dev/null \
    -i "$S/client_ed25519" -p "$SSHD_PORT" "$(id -un)@127.0.0.1" true >/dev/null 2>&1
}
sshd_healthy() { sshd_ours && sshd_probe; }
stop_sshd() { stop_pid sshd "$(sshd_pid)" "$STATE/sshd/sshd_config" TERM 10; rm -f "$STATE/sshd/sshd.pid"; }
start_sshd() {
  local S=$STATE/sshd t0; t0=$(now_ms)
  [[ -x /usr/sbin/sshd ]] || die "/usr/sbin/sshd not found (package openssh-server)"
  stop_sshd
  port_free "$SSHD_PORT" || die "port $SSHD_PORT (sshd) on 127.0.0.1 is in use; set BYTEPORT_SSHD_PORT"
  rm -rf "$S"; mkdir -p "$S"; chmod 700 "$S"
  # privilege separation directory, normally made by the systemd unit (RuntimeDirectory=sshd)
  mkdir -p /run/sshd 2>/dev/null || true; chmod 755 /run/sshd 2>/dev/null || true
  ssh-keygen -q -t ed25519 -N '' -C byteport-test-host -f "$S/ssh_host_ed25519_key" || die "ssh-keygen (host key) failed"
  ssh-keygen -q -t ed25519 -N '' -C byteport-test-client -f "$S/client_ed25519" || die "ssh-keygen (client key) failed"
  cp "$S/client_ed25519.pub" "$S/authorized_keys"; chmod 600 "$S/authorized_keys"
  printf '[127.0.0.1]:%s %s\n' "$SSHD_PORT" "$(cut -d' ' -f1,2 "$S/ssh_host_ed25519_key.pub")" > "$S/known_hosts"
  local sftp=/usr/lib/openssh/sftp-server; [[ -x $sftp ]] || sftp=internal-sftp
  cat >"$S/sshd_config" <<EOF
# BytePort test sshd (scripts/services.sh)
Port $SSHD_PORT
ListenAddress 127.0.0.1
HostKey $S/ssh_host_ed25519_key
PidFile $S/sshd.pid
AuthorizedKeysFile $S/authorized_keys
UsePAM no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
StrictModes no
AllowTcpForwarding no
X11Forwarding no
PrintMotd no
MaxStartups 100:30:200
MaxSessions 64
Subsystem sftp $sftp
# bash sources ~/.bashrc for a command run by sshd unless SHLVL says it is nested; a machine's root
# .bashrc can be slow (pyenv: hundreds of ms per command), and no test is about it
SetEnv SHLVL=1
EOF
  /usr/sbin/sshd -t -f "$S/sshd_config" 2>"$S/sshd-check.log" || { cat "$S/sshd-check.log" >&2; die "sshd rejected its configuration"; }
  nohup /usr/sbin/sshd -D -e -f "$S/sshd_config" </dev/null >/dev/null 2>"$S/sshd.log" 9>&- &
  echo $! > "$S/sshd.pid"
  wait_for sshd 30 grep -q "Server listening on" "$S/sshd.log" || { tail -20 "$S/sshd.log" >&2; die "sshd not ready"; }
  wait_for sshd 10 sshd_probe || { tail -20 "$S/sshd.log" >&2; die "sshd does not accept the test key"; }
  log "sshd ready on 127.0.0.1:$SSHD_PORT ($(( $(now_ms) - t0 )) ms)"
}

write_env() { # write_env [SERVICES_KNOWN_UP...]: re-probes only the others
  local up=() f=$STATE/services.env known=" $* "
  has postgres && { [[ $known == *" postgres "* ]] || pg_healthy; } && up+=(postgres)
  has pgbouncer && { [[ $known == *" pgbouncer "* ]] || pgb_healthy; } && up+=(pgbouncer)
  has mariadb && { [[ $known == *" mariadb "* ]] || my_healthy; } && up+=(mariadb)
  has pgreplica && { [[ $known == *" pgreplica "* ]] || pgr_healthy; } && up+=(pgreplica)
  local s; for s in $TLS_SERVICES; do has "$s" && { [[ $known == *" $s "* ]] || tls_healthy "$s"; } && up+=("$s"); done
  has sshd && { [[ $known == *" sshd "* ]] || sshd_healthy; } && up+=(sshd)
  has hosttools && hosttools_ok && up+=(hosttools)
  {
    echo "BYTEPORT_SERVICES_DIR=$STATE"
    echo "BYTEPORT_TEST_SERVICES_UP=${up[*]}"
    if [[ " ${up[*]} " == *" postgres "* ]]; then
      echo "BYTEPORT_TEST_PG_HOST=127.0.0.1"
      echo "BYTEPORT_TEST_PG_PORT=$PG_PORT"
      echo "BYTEPORT_TEST_PG_URL=postgres://app:$PG_APP_PW@127.0.0.1:$PG_PORT/appdb"
      echo "BYTEPORT_TEST_PG_SUPER_URL=postgres://postgres:$PG_SUPER_PW@127.0.0.1:$PG_PORT/appdb"
      echo "BYTEPORT_TEST_PG_AGENT_URL=postgres://byteport_agent:$PG_AGENT_PW@127.0.0.1:$PG_PORT/appdb"
      echo "BYTEPORT_TEST_PG_DATA=$STATE/pg/data"
      echo "BYTEPORT_TEST_PG_PID=$(pg_pid)"
    fi
    if [[ " ${up[*]} " == *" pgbouncer "* ]]; then
      echo "BYTEPORT_TEST_PGBOUNCER_PORT=$PGB_PORT"
      echo "BYTEPORT_TEST_PGBOUNCER_URL=postgres://app:$PG_APP_PW@127.0.0.1:$PGB_PORT/appdb"
      echo "BYTEPORT_TEST_PGBOUNCER_ADMIN_URL=postgres://pgbouncer_admin:$PGB_ADMIN_PW@127.0.0.1:$PGB_PORT/pgbouncer"
      echo "BYTEPORT_TEST_PGBOUNCER_INI=$STATE/pgbouncer/pgbouncer.ini"
      echo "BYTEPORT_TEST_PGBOUNCER_PID=$(pgb_pid)"
    fi
    if [[ " ${up[*]} " == *" mariadb "* ]]; then
      echo "BYTEPORT_TEST_MYSQL_HOST=127.0.0.1"
      echo "BYTEPORT_TEST_MYSQL_PORT=$MY_PORT"
      echo "BYTEPORT_TEST_MYSQL_URL=mysql://app:$MY_APP_PW@127.0.0.1:$MY_PORT/appdb"
      echo "BYTEPORT_TEST_MYSQL_ADMIN_URL=mysql://byteport_admin:$MY_ADMIN_PW@127.0.0.1:$MY_PORT/appdb"
      echo "BYTEPORT_TEST_MYSQL_AGENT_URL=mysql://byteport_agent:$MY_AGENT_PW@127.0.0.1:$MY_PORT/appdb"
      echo "BYTEPORT_TEST_MYSQL_PID=$(my_pid)"
    fi
    if [[ " ${up[*]} " == *" pgreplica "* ]]; then
      echo "BYTEPORT_TEST_PG_REPLICA_PORT=$PGR_PORT"
      echo "BYTEPORT_TEST_PG_REPLICA_URL=postgres://app:$PG_APP_PW@127.0.0.1:$PGR_PORT/appdb"
      echo "BYTEPORT_TEST_PG_REPLICA_SUPER_URL=postgres://postgres:$PG_SUPER_PW@127.0.0.1:$PGR_PORT/appdb"
      echo "BYTEPORT_TEST_PG_REPLICA_AGENT_URL=postgres://byteport_agent:$PG_AGENT_PW@127.0.0.1:$PGR_PORT/appdb"
      echo "BYTEPORT_TEST_PG_REPLICA_DATA=$STATE/pgreplica/data"
      echo "BYTEPORT_TEST_PG_REPLICA_PID=$(pgr_pid)"
      echo "BYTEPORT_TEST_PG_REPLICATION_PASSWORD=$PG_REPL_PW"
    fi
    tls_env "${up[@]}"
    if [[ " ${up[*]} " == *" sshd "* ]]; then
      echo "BYTEPORT_TEST_SSHD_HOST=127.0.0.1"
      echo "BYTEPORT_TEST_SSHD_PORT=$SSHD_PORT"
      echo "BYTEPORT_TEST_SSHD_USER=$(id -un)"
      echo "BYTEPORT_TEST_SSHD_KEY=$STATE/sshd/client_ed25519"
      echo "BYTEPORT_TEST_SSHD_KNOWN_HOSTS=$STATE/sshd/known_hosts"
      echo "BYTEPORT_TEST_SSHD_HOST_KEY_PUB=$STATE/sshd/ssh_host_ed25519_key.pub"
      echo "BYTEPORT_TEST_SSHD_PID=$(sshd_pid)"
    fi
    if [[ " ${up[*]} " == *" hosttools "* ]]; then
      echo "BYTEPORT_TEST_LOGROTATE=$(command -v logrotate)"
      echo "BYTEPORT_TEST_JOURNAL_REMOTE=$JOURNAL_REMOTE"
      echo "BYTEPORT_TEST_JOURNALCTL=$(command -v journalctl)"
      echo "BYTEPORT_TEST_JCMD=$(command -v jcmd)"
    fi
  } > "$f.tmp"
  mv -f "$f.tmp" "$f"
}

# ------------------------------------------------------------------------------ TLS servers
# (issue 15) Pebble x2 + challtestsrv, OCSP responder, nginx, haproxy, caddy, certbot.
TLSD=$STATE/tls
tls_want() { local s; for s in $TLS_SERVICES; do has "$s" && return 0; done; return 1; }
tls_ensure_packages() {
  local want=() missing=() p
  has pebble && want+=(pebble)
  has nginx && want+=(nginx)
  has haproxy && want+=(haproxy)
  has caddy && want+=(caddy)
  has certbot && want+=(certbot)
  { has pebble || has ocsp; } && { command -v openssl >/dev/null && command -v curl >/dev/null || want+=(openssl curl); }
  for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  [[ ${BYTEPORT_SKIP_INSTALL:-0} == 1 ]] && { log "missing packages: ${missing[*]} (BYTEPORT_SKIP_INSTALL=1)"; return 1; }
  ((IS_ROOT)) || { log "missing packages: ${missing[*]}; run once as root to install them"; return 1; }
  local t0 made_policy=0 rc=0; t0=$(now_ms)
  log "installing ${missing[*]} (log: $STATE/apt-tls.log)"
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; made_policy=1
  fi
  {
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 -y -q --no-install-recommends install "${missing[@]}" ||
    { DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 -q update &&
      DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 -y -q --no-install-recommends install "${missing[@]}"; }
  } >"$STATE/apt-tls.log" 2>&1 || rc=$?
  ((made_policy)) && rm -f /usr/sbin/policy-rc.d
  if ((rc)); then tail -20 "$STATE/apt-tls.log" >&2; log "apt-get install ${missing[*]} failed"; return 1; fi
  log "installed ${missing[*]} in $(( $(now_ms) - t0 )) ms"
}
tls_pid() { pid_from "$TLSD/$1.pid"; }
tls_ours() { local p; p=$(tls_pid "$1"); alive "$p" && [[ $(cmdline "$p") == *"$2"* ]]; }
cts_ours() { tls_ours challtestsrv pebble-challtestsrv; }
pebble_ours() { tls_ours "$1" "$TLSD/$1/config.json"; }
pebble_probe() { curl -fsS --max-time 2 --cacert "$TLSD/pki/ca.pem" "https://127.0.0.1:$1/dir" >/dev/null; }
ocsp_ours() { tls_ours ocsp "$TLSD/ocsp"; }
ocsp_probe() { curl -fsS --max-time 2 "http://127.0.0.1:$OCSP_PORT/health" >/dev/null; }
nginx_ours() { tls_ours nginx "$TLSD/nginx/nginx.conf"; }
nginx_probe() { curl -ksS --max-time 2 -o /dev/null "https://127.0.0.1:$NGINX_TLS_PORT/" && curl -fsS --max-time 2 "http://127.0.0.1:$ACME_HTTP_PORT/.well-known/acme-challenge/byteport-probe" >/dev/null; }
haproxy_ours() { tls_ours haproxy "$TLSD/haproxy/haproxy.cfg"; }
haproxy_probe() { curl -kfsS --max-time 2 -o /dev/null "https://127.0.0.1:$HAPROXY_TLS_PORT/"; }
caddy_ours() { tls_ours caddy "$TLSD/caddy/Caddyfile"; }
caddy_probe() { curl -fsS --max-time 2 -o /dev/null "http://127.0.0.1:$CADDY_ADMIN_PORT/config/" && curl -kfsS --max-time 2 -o /dev/null --resolve "caddy.byteport.test:$CADDY_TLS_PORT:127.0.0.1" "https://caddy.byteport.test:$CADDY_TLS_PORT/"; }
pebble_healthy() { cts_ours && pebble_ours pebble && pebble_ours pebble-short && pebble_probe "$PEBBLE_PORT" && pebble_probe "$PEBBLE_SHORT_PORT"; }
ocsp_healthy() { ocsp_ours && ocsp_probe; }
nginx_healthy() { nginx_ours && nginx_probe; }
haproxy_healthy() { haproxy_ours && haproxy_probe; }
caddy_healthy() { caddy_ours && caddy_probe; }
certbot_healthy() { command -v certbot >/dev/null; }
tls_healthy() { "${1}_healthy"; }

tls_stop() {
  stop_pid caddy "$(tls_pid caddy)" "$TLSD/caddy/Caddyfile" TERM 10
  stop_pid haproxy "$(tls_pid haproxy)" "$TLSD/haproxy/haproxy.cfg" TERM 10
  stop_pid nginx "$(tls_pid nginx)" "$TLSD/nginx/nginx.conf" TERM 10
  stop_pid ocsp "$(tls_pid ocsp)" "$TLSD/ocsp" TERM 10
  stop_pid pebble "$(tls_pid pebble)" "$TLSD/pebble/config.json" TERM 10
  stop_pid pebble-short "$(tls_pid pebble-short)" "$TLSD/pebble-short/config.json" TERM 10
  stop_pid challtestsrv "$(tls_pid challtestsrv)" pebble-challtestsrv TERM 10
  return 0
}

# A CA for Pebble's own HTTPS listener and the placeholder certificates the servers start with.
tls_pki() {
  local P=$TLSD/pki
  [[ -f $P/ca.pem && -f $P/localhost.pem ]] && return 0
  rm -rf "$P"; mkdir -p "$P"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 -subj "/O=BytePort Test/CN=BytePort services CA" \
    -keyout "$P/ca.key" -out "$P/ca.pem" >/dev/null 2>&1 || { log "openssl: CA failed"; return 1; }
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" -keyout "$P/localhost.key" -out "$P/localhost.csr" \
    >/dev/null 2>&1 || return 1
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1,DNS:*.byteport.test\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n' > "$P/ext.cnf"
  openssl x509 -req -in "$P/localhost.csr" -CA "$P/ca.pem" -CAkey "$P/ca.key" -CAcreateserial -days 3650 -extfile "$P/ext.cnf" \
    -out "$P/localhost.pem" >/dev/null 2>&1 || { log "openssl: listener certificate failed"; return 1; }
  chmod 644 "$P"/*.pem
}

start_pebbles() {
  local t0; t0=$(now_ms)
  tls_stop_pebbles
  local p; for p in "$PEBBLE_PORT" "$PEBBLE_MGMT_PORT" "$PEBBLE_SHORT_PORT" "$PEBBLE_SHORT_MGMT_PORT" "$CTS_DNS_PORT" "$CTS_MGMT_PORT"; do
    port_free "$p" || { log "port $p (pebble) on 127.0.0.1 is in use; set its BYTEPORT_*_PORT"; return 1; }
  done
  tls_pki || return 1
  rm -rf "$TLSD/pebble" "$TLSD/pebble-short"; mkdir -p "$TLSD/pebble" "$TLSD/pebble-short"
  nohup pebble-challtestsrv -defaultIPv4 127.0.0.1 -defaultIPv6 "" -dns01 "127.0.0.1:$CTS_DNS_PORT" -http01 "" -https01 "" \
    -tlsalpn01 "" -management "127.0.0.1:$CTS_MGMT_PORT" </dev/null >"$TLSD/challtestsrv.log" 2>&1 9>&- &
  echo $! > "$TLSD/challtestsrv.pid"
  # renewal CA: Pebble's default validity (5 years), no OCSP URL
  cat >"$TLSD/pebble/config.json" <<JSON
{"pebble": {"listenAddress": "127.0.0.1:$PEBBLE_PORT", "managementListenAddress": "127.0.0.1:$PEBBLE_MGMT_PORT",
 "certificate": "$TLSD/pki/localhost.pem", "privateKey": "$TLSD/pki/localhost.key",
 "httpPort": $ACME_HTTP_PORT, "tlsPort": $ACME_TLS_PORT, "ocspResponderURL": "", "externalAccountBindingRequired": false}}
JSON
  # initial CA: 5-day certificates naming the OCSP responder
  cat >"$TLSD/pebble-short/config.json" <<JSON
{"pebble": {"listenAddress": "127.0.0.1:$PEBBLE_SHORT_PORT", "managementListenAddress": "127.0.0.1:$PEBBLE_SHORT_MGMT_PORT",
 "certificate": "$TLSD/pki/localhost.pem", "privateKey": "$TLSD/pki/localhost.key",
 "httpPort": $ACME_HTTP_PORT, "tlsPort": $ACME_TLS_PORT, "ocspResponderURL": "http://127.0.0.1:$OCSP_PORT/",
 "certificateValidityPeriod": $PEBBLE_SHORT_VALIDITY, "externalAccountBindingRequired": false}}
JSON
  local name
  for name in pebble pebble-short; do
    PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 nohup pebble -config "$TLSD/$name/config.json" -dnsserver "127.0.0.1:$CTS_DNS_PORT" \
      </dev/null >"$TLSD/$name/pebble.log" 2>&1 9>&- &
    echo $! > "$TLSD/$name.pid"
  done
  wait_for pebble 20 pebble_probe "$PEBBLE_PORT" || { tail -5 "$TLSD/pebble/pebble.log" >&2; return 1; }
  wait_for pebble-short 20 pebble_probe "$PEBBLE_SHORT_PORT" || { tail -5 "$TLSD/pebble-short/pebble.log" >&2; return 1; }
  wait_for challtestsrv 20 port_in_use "$CTS_MGMT_PORT" || return 1
  # roots and intermediates change on every start: saved for the tests and the OCSP responder
  for name in pebble pebble-short; do
    local m=$PEBBLE_MGMT_PORT; [[ $name == pebble-short ]] && m=$PEBBLE_SHORT_MGMT_PORT
    curl -fsS --cacert "$TLSD/pki/ca.pem" "https://127.0.0.1:$m/roots/0" -o "$TLSD/$name/root.pem" &&
    curl -fsS --cacert "$TLSD/pki/ca.pem" "https://127.0.0.1:$m/intermediates/0" -o "$TLSD/$name/intermediate.pem" &&
    curl -fsS --cacert "$TLSD/pki/ca.pem" "https://127.0.0.1:$m/intermediate-keys/0" -o "$TLSD/$name/intermediate.key" ||
      { log "$name: fetching its root and intermediate failed"; return 1; }
    chmod 600 "$TLSD/$name/intermediate.key"
  done
  log "pebble ready on 127.0.0.1:$PEBBLE_PORT and pebble-short on 127.0.0.1:$PEBBLE_SHORT_PORT ($(( $(now_ms) - t0 )) ms)"
}
port_in_use() { ! port_free "$1"; }
tls_stop_pebbles() {
  stop_pid pebble "$(tls_pid pebble)" "$TLSD/pebble/config.json" TERM 10
  stop_pid pebble-short "$(tls_pid pebble-short)" "$TLSD/pebble-short/config.json" TERM 10
  stop_pid challtestsrv "$(tls_pid challtestsrv)" pebble-challtestsrv TERM 10
}

start_ocsp() {
  local t0; t0=$(now_ms)
  stop_pid ocsp "$(tls_pid ocsp)" "$TLSD/ocsp" TERM 10
  port_free "$OCSP_PORT" || { log "port $OCSP_PORT (OCSP responder) in use; set BYTEPORT_OCSP_PORT"; return 1; }
  [[ -f $TLSD/pebble-short/intermediate.key ]] || { log "ocsp needs pebble-short's intermediate"; return 1; }
  rm -rf "$TLSD/ocsp"; mkdir -p "$TLSD/ocsp"
  nohup node "$HERE/ocsp-responder.mjs" --port "$OCSP_PORT" --ca "$TLSD/pebble-short/intermediate.pem" \
    --key "$TLSD/pebble-short/intermediate.key" --dir "$TLSD/ocsp" </dev/null >"$TLSD/ocsp.log" 2>&1 9>&- &
  echo $! > "$TLSD/ocsp.pid"
  wait_for ocsp 20 ocsp_probe || { tail -5 "$TLSD/ocsp.log" >&2; return 1; }
  log "ocsp responder ready on 127.0.0.1:$OCSP_PORT ($(( $(now_ms) - t0 )) ms)"
}

start_nginx() {
  local N=$TLSD/nginx t0; t0=$(now_ms)
  stop_pid nginx "$(tls_pid nginx)" "$N/nginx.conf" TERM 10
  port_free "$NGINX_TLS_PORT" || { log "port $NGINX_TLS_PORT (nginx) in use; set BYTEPORT_NGINX_TLS_PORT"; return 1; }
  port_free "$ACME_HTTP_PORT" || { log "port $ACME_HTTP_PORT (nginx http-01) in use; set BYTEPORT_ACME_HTTP_PORT"; return 1; }
  tls_pki || return 1
  rm -rf "$N"; mkdir -p "$N/tmp" "$N/tls" "$N/webroot/.well-known/acme-challenge"
  echo ok > "$N/webroot/.well-known/acme-challenge/byteport-probe"
  cp "$TLSD/pki/localhost.pem" "$N/tls/fullchain.pem"; cp "$TLSD/pki/localhost.key" "$N/tls/privkey.pem"; chmod 600 "$N/tls/privkey.pem"
  chmod -R a+rX "$N/webroot"
  cat >"$N/nginx.conf" <<CONF
# BytePort test nginx (scripts/services.sh)
worker_processes 1;
pid $N/nginx.pid;
error_log $N/error.log notice;
events { worker_connections 64; }
http {
  access_log $N/access.log;
  client_body_temp_path $N/tmp/body; proxy_temp_path $N/tmp/proxy; fastcgi_temp_path $N/tmp/fastcgi;
  uwsgi_temp_path $N/tmp/uwsgi; scgi_temp_path $N/tmp/scgi;
  server {
    listen 127.0.0.1:$ACME_HTTP_PORT;
    server_name _;
    location /.well-known/acme-challenge/ { root $N/webroot; default_type text/plain; }
    location / { return 200 "byteport nginx http\n"; }
  }
  server {
    listen 127.0.0.1:$NGINX_TLS_PORT ssl;
    server_name _;
    ssl_certificate $N/tls/fullchain.pem;
    ssl_certificate_key $N/tls/privkey.pem;
    ssl_stapling on;
    location / { return 200 "byteport nginx tls\n"; }
  }
}
CONF
  nginx -c "$N/nginx.conf" -e "$N/error.log" 9>&- || { tail -5 "$N/error.log" >&2; return 1; }
  wait_for nginx 20 nginx_probe || { tail -5 "$N/error.log" >&2; return 1; }
  ln -sf "$N/nginx.pid" "$TLSD/nginx.pid"
  log "nginx ready on 127.0.0.1:$NGINX_TLS_PORT (http-01 webroot on $ACME_HTTP_PORT) ($(( $(now_ms) - t0 )) ms)"
}

start_haproxy() {
  local H=$TLSD/haproxy t0; t0=$(now_ms)
  stop_pid haproxy "$(tls_pid haproxy)" "$H/haproxy.cfg" TERM 10
  port_free "$HAPROXY_TLS_PORT" || { log "port $HAPROXY_TLS_PORT (haproxy) in use; set BYTEPORT_HAPROXY_TLS_PORT"; return 1; }
  tls_pki || return 1
  rm -rf "$H"; mkdir -p "$H"
  cat "$TLSD/pki/localhost.pem" "$TLSD/pki/localhost.key" > "$H/server.pem"; chmod 600 "$H/server.pem"
  cat >"$H/haproxy.cfg" <<CONF
# BytePort test haproxy (scripts/services.sh)
global
  master-worker
  pidfile $H/haproxy.pid
  stats socket $H/admin.sock mode 600 level admin expose-fd listeners
  log stderr format raw local0
defaults
  mode http
  timeout connect 2s
  timeout client 5s
  timeout server 5s
frontend tls
  bind 127.0.0.1:$HAPROXY_TLS_PORT ssl crt $H/server.pem
  http-request return status 200 content-type text/plain string "byteport haproxy tls"
CONF
  haproxy -D -W -S "$H/master.sock,mode,600" -f "$H/haproxy.cfg" 9>&- >"$H/haproxy.log" 2>&1 || { tail -5 "$H/haproxy.log" >&2; return 1; }
  wait_for haproxy 20 haproxy_probe || { tail -5 "$H/haproxy.log" >&2; return 1; }
  ln -sf "$H/haproxy.pid" "$TLSD/haproxy.pid"
  log "haproxy ready on 127.0.0.1:$HAPROXY_TLS_PORT ($(( $(now_ms) - t0 )) ms)"
}

start_caddy() {
  local C=$TLSD/caddy t0; t0=$(now_ms)
  stop_pid caddy "$(tls_pid caddy)" "$C/Caddyfile" TERM 10
  port_free "$CADDY_TLS_PORT" || { log "port $CADDY_TLS_PORT (caddy) in use; set BYTEPORT_CADDY_TLS_PORT"; return 1; }
  port_free "$CADDY_ADMIN_PORT" || { log "port $CADDY_ADMIN_PORT (caddy admin) in use; set BYTEPORT_CADDY_ADMIN_PORT"; return 1; }
  tls_pki || return 1
  rm -rf "$C"; mkdir -p "$C/tls" "$C/home"
  cp "$TLSD/pki/localhost.pem" "$C/tls/fullchain.pem"; cp "$TLSD/pki/localhost.key" "$C/tls/privkey.pem"; chmod 600 "$C/tls/privkey.pem"
  cat >"$C/Caddyfile" <<CONF
# BytePort test caddy (scripts/services.sh)
{
	admin 127.0.0.1:$CADDY_ADMIN_PORT
	auto_https disable_redirects
	skip_install_trust
	storage file_system $C/data
	http_port $((CADDY_TLS_PORT + 1000))
	https_port $CADDY_TLS_PORT
}
https://caddy.byteport.test:$CADDY_TLS_PORT {
	bind 127.0.0.1
	tls $C/tls/fullchain.pem $C/tls/privkey.pem
	respond "byteport caddy tls"
}
CONF
  HOME=$C/home XDG_DATA_HOME=$C/data XDG_CONFIG_HOME=$C/config nohup caddy run --config "$C/Caddyfile" --adapter caddyfile \
    --pidfile "$C/caddy.pid" </dev/null >"$C/caddy.log" 2>&1 9>&- &
  echo $! > "$TLSD/caddy.pid"
  wait_for caddy 20 caddy_probe || { tail -5 "$C/caddy.log" >&2; return 1; }
  log "caddy ready on 127.0.0.1:$CADDY_TLS_PORT, admin 127.0.0.1:$CADDY_ADMIN_PORT ($(( $(now_ms) - t0 )) ms)"
}

# tls_up: called by cmd_up; adds to its started/healthy/failed lists.
tls_up() {
  tls_want || return 0
  mkdir -p "$TLSD"
  if ! tls_ensure_packages; then
    local s; for s in $TLS_SERVICES; do has "$s" && failed+=("$s"); done; return 0
  fi
  local pebble_restarted=0 s
  if has pebble || has ocsp; then
    if pebble_healthy; then has pebble && healthy+=(pebble)
    elif ( start_pebbles ); then pebble_restarted=1; has pebble && { started+=(pebble); healthy+=(pebble); }
    else failed+=(pebble); has ocsp && failed+=(ocsp); fi
  fi
  if has ocsp && [[ " ${failed[*]-} " != *" ocsp "* ]]; then
    if ((pebble_restarted == 0)) && ocsp_healthy; then healthy+=(ocsp)
    elif ( start_ocsp ); then started+=(ocsp); healthy+=(ocsp)
    else failed+=(ocsp); fi
  fi
  for s in nginx haproxy caddy; do
    has "$s" || continue
    if "${s}_healthy"; then healthy+=("$s")
    elif ( "start_$s" ); then started+=("$s"); healthy+=("$s")
    else failed+=("$s"); fi
  done
  if has certbot; then if certbot_healthy; then healthy+=(certbot); else failed+=(certbot); fi; fi
  return 0
}

# tls_env: the TLS servers' settings (appended to services.env by write_env).
tls_env() { # tls_env UP-LIST
  local up=" $* "
  if [[ $up == *" pebble "* ]]; then
    echo "BYTEPORT_TEST_PEBBLE_DIRECTORY_URL=https://127.0.0.1:$PEBBLE_PORT/dir"
    echo "BYTEPORT_TEST_PEBBLE_MGMT_URL=https://127.0.0.1:$PEBBLE_MGMT_PORT"
    echo "BYTEPORT_TEST_PEBBLE_ROOT=$TLSD/pebble/root.pem"
    echo "BYTEPORT_TEST_PEBBLE_SHORT_DIRECTORY_URL=https://127.0.0.1:$PEBBLE_SHORT_PORT/dir"
    echo "BYTEPORT_TEST_PEBBLE_SHORT_MGMT_URL=https://127.0.0.1:$PEBBLE_SHORT_MGMT_PORT"
    echo "BYTEPORT_TEST_PEBBLE_SHORT_ROOT=$TLSD/pebble-short/root.pem"
    echo "BYTEPORT_TEST_PEBBLE_INTERMEDIATE=$TLSD/pebble/intermediate.pem"
    echo "BYTEPORT_TEST_PEBBLE_SHORT_INTERMEDIATE=$TLSD/pebble-short/intermediate.pem"
    echo "BYTEPORT_TEST_PEBBLE_SHORT_VALIDITY_S=$PEBBLE_SHORT_VALIDITY"
    echo "BYTEPORT_TEST_PEBBLE_TLS_CA=$TLSD/pki/ca.pem"
    echo "BYTEPORT_TEST_PEBBLE_LOG=$TLSD/pebble/pebble.log"
    echo "BYTEPORT_TEST_PEBBLE_SHORT_LOG=$TLSD/pebble-short/pebble.log"
    echo "BYTEPORT_TEST_CHALLTESTSRV_URL=http://127.0.0.1:$CTS_MGMT_PORT"
    echo "BYTEPORT_TEST_PEBBLE_DNS=127.0.0.1:$CTS_DNS_PORT"
    echo "BYTEPORT_TEST_ACME_HTTP_PORT=$ACME_HTTP_PORT"
  fi
  if [[ $up == *" ocsp "* ]]; then
    echo "BYTEPORT_TEST_OCSP_URL=http://127.0.0.1:$OCSP_PORT/"
  fi
  if [[ $up == *" nginx "* ]]; then
    echo "BYTEPORT_TEST_NGINX_TLS_PORT=$NGINX_TLS_PORT"
    echo "BYTEPORT_TEST_NGINX_HTTP_PORT=$ACME_HTTP_PORT"
    echo "BYTEPORT_TEST_NGINX_CONF=$TLSD/nginx/nginx.conf"
    echo "BYTEPORT_TEST_NGINX_ERROR_LOG=$TLSD/nginx/error.log"
    echo "BYTEPORT_TEST_NGINX_CERT=$TLSD/nginx/tls/fullchain.pem"
    echo "BYTEPORT_TEST_NGINX_KEY=$TLSD/nginx/tls/privkey.pem"
    echo "BYTEPORT_TEST_NGINX_WEBROOT=$TLSD/nginx/webroot"
    echo "BYTEPORT_TEST_NGINX_PID_FILE=$TLSD/nginx/nginx.pid"
  fi
  if [[ $up == *" haproxy "* ]]; then
    echo "BYTEPORT_TEST_HAPROXY_TLS_PORT=$HAPROXY_TLS_PORT"
    echo "BYTEPORT_TEST_HAPROXY_CFG=$TLSD/haproxy/haproxy.cfg"
    echo "BYTEPORT_TEST_HAPROXY_PEM=$TLSD/haproxy/server.pem"
    echo "BYTEPORT_TEST_HAPROXY_ADMIN_SOCK=$TLSD/haproxy/admin.sock"
    echo "BYTEPORT_TEST_HAPROXY_MASTER_SOCK=$TLSD/haproxy/master.sock"
    echo "BYTEPORT_TEST_HAPROXY_PID_FILE=$TLSD/haproxy/haproxy.pid"
  fi
  if [[ $up == *" caddy "* ]]; then
    echo "BYTEPORT_TEST_CADDY_TLS_PORT=$CADDY_TLS_PORT"
    echo "BYTEPORT_TEST_CADDY_ADMIN_URL=http://127.0.0.1:$CADDY_ADMIN_PORT"
    echo "BYTEPORT_TEST_CADDY_CADDYFILE=$TLSD/caddy/Caddyfile"
    echo "BYTEPORT_TEST_CADDY_CERT=$TLSD/caddy/tls/fullchain.pem"
    echo "BYTEPORT_TEST_CADDY_KEY=$TLSD/caddy/tls/privkey.pem"
    echo "BYTEPORT_TEST_CADDY_SERVERNAME=caddy.byteport.test"
  fi
  if [[ $up == *" certbot "* ]]; then
    echo "BYTEPORT_TEST_CERTBOT=$(command -v certbot)"
  fi
  return 0
}
tls_status() {
  local s
  for s in $TLS_SERVICES; do
    has "$s" || continue
    if tls_healthy "$s"; then printf '%-9s up\n' "$s"; else printf '%-9s down\n' "$s"; fi
  done
}

# ------------------------------------------------------------------------------ leases
prune_leases() {
  local l p
  for l in "$STATE"/leases/*; do
    [[ -e $l ]] || continue
    p=$(tr -dc 0-9 < "$l")
    [[ -n $p ]] && ! alive "$p" && rm -f "$l"
  done
  return 0
}
live_leases() { prune_leases; local l; for l in "$STATE"/leases/*; do [[ -e $l ]] && basename "$l"; done; return 0; }
lease_name_ok() { [[ $1 =~ ^[A-Za-z0-9_.-]+$ ]] || die "bad lease name '$1'"; }

# ------------------------------------------------------------------------------ commands
cmd_up() {
  local lease=manual pid=""
  while (($#)); do case $1 in
    --lease) lease=${2:?}; shift 2 ;; --pid) pid=${2:?}; shift 2 ;; *) die "up: unknown argument $1" ;; esac
  done
  lease_name_ok "$lease"
  local t0; t0=$(now_ms)
  ensure_packages
  # The version of this script that started the servers: a changed script restarts them.
  local version; version=$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-16)
  if [[ $(cat "$STATE/version" 2>/dev/null) != "$version" ]]; then
    [[ -f $STATE/version ]] && log "services.sh changed since the servers started; restarting them"
    stop_all
  fi
  local failed=() started=() healthy=()
  # MariaDB starts in the background while PostgreSQL and pgbouncer come up.
  local my_job=""
  if has mariadb; then
    if my_healthy; then healthy+=(mariadb); else ( start_mariadb ) & my_job=$!; started+=(mariadb); fi
  fi
  if has postgres; then
    if pg_healthy; then healthy+=(postgres)
    elif ( start_postgres ); then started+=(postgres); healthy+=(postgres); stop_pgbouncer
    else failed+=(postgres); fi
  fi
  if has pgbouncer; then
    if pgb_healthy; then healthy+=(pgbouncer)
    elif ! has postgres || [[ " ${failed[*]} " == *" postgres "* ]]; then
      failed+=(pgbouncer); log "pgbouncer needs postgres"
    elif ( start_pgbouncer ); then started+=(pgbouncer); healthy+=(pgbouncer)
    else failed+=(pgbouncer); fi
  fi
  if has pgreplica; then
    # a primary that (re)started has a new system identifier: its replica is re-created
    if [[ " ${started[*]} " != *" postgres "* ]] && pgr_healthy; then healthy+=(pgreplica)
    elif ! has postgres || [[ " ${failed[*]} " == *" postgres "* ]]; then
      failed+=(pgreplica); log "pgreplica needs postgres"
    elif ( start_pgreplica ); then started+=(pgreplica); healthy+=(pgreplica)
    else failed+=(pgreplica); fi
  fi
  if [[ -n $my_job ]]; then if wait "$my_job"; then healthy+=(mariadb); else failed+=(mariadb); fi; fi
  tls_up
  if has sshd; then
    if sshd_healthy; then healthy+=(sshd)
    elif ( start_sshd ); then started+=(sshd); healthy+=(sshd)
    else failed+=(sshd); fi
  fi
  if has hosttools; then if hosttools_ok; then healthy+=(hosttools); else failed+=(hosttools); log "host tools missing (logrotate, systemd-journal-remote, jcmd)"; fi; fi
  echo "$version" > "$STATE/version"
  write_env "${healthy[@]}"
  mkdir -p "$STATE/leases"
  echo "$pid" > "$STATE/leases/$lease"
  if ((${#failed[@]})); then
    log "FAILED: ${failed[*]} (up: $(sed -n 's/^BYTEPORT_TEST_SERVICES_UP=//p' "$STATE/services.env"))"
    exit 2
  fi
  if ((${#started[@]})); then log "started ${started[*]} in $(( $(now_ms) - t0 )) ms"
  else log "already up ($(( $(now_ms) - t0 )) ms)"; fi
}

cmd_down() {
  local lease=""
  while (($#)); do case $1 in --lease) lease=${2:?}; shift 2 ;; *) die "down: unknown argument $1" ;; esac; done
  [[ -d $STATE ]] || return 0
  local t0; t0=$(now_ms)
  if [[ -n $lease ]]; then
    lease_name_ok "$lease"
    rm -f "$STATE/leases/$lease"
    local others; others=$(live_leases | tr '\n' ' ')
    if [[ -n ${others// } ]]; then log "still leased by: $others; leaving the servers up"; return 0; fi
  fi
  stop_all
  rm -rf "$STATE/leases"
  log "down ($(( $(now_ms) - t0 )) ms)"
}

cmd_status() {
  local s
  for s in postgres pgbouncer mariadb pgreplica sshd hosttools; do
    case $s in
      postgres) if pg_healthy; then echo "postgres  up    127.0.0.1:$PG_PORT pid $(pg_pid)"; else echo "postgres  down"; fi ;;
      pgbouncer) if pgb_healthy; then echo "pgbouncer up    127.0.0.1:$PGB_PORT pid $(pgb_pid)"; else echo "pgbouncer down"; fi ;;
      mariadb) if my_healthy; then echo "mariadb   up    127.0.0.1:$MY_PORT pid $(my_pid)"; else echo "mariadb   down"; fi ;;
      pgreplica) if pgr_healthy; then echo "pgreplica up    127.0.0.1:$PGR_PORT pid $(pgr_pid)"; else echo "pgreplica down"; fi ;;
      sshd) if sshd_healthy; then echo "sshd      up    127.0.0.1:$SSHD_PORT pid $(sshd_pid)"; else echo "sshd      down"; fi ;;
      hosttools) if hosttools_ok; then echo "hosttools present (logrotate, systemd-journal-remote, jcmd)"; else echo "hosttools missing"; fi ;;
    esac
  done
  tls_status
  [[ -d $STATE/leases ]] && echo "leases: $(live_leases | tr '\n' ' ')"
  return 0
}

cmd_env() {
  [[ -f $STATE/services.env ]] || die "no services running from $STATE (run: bash scripts/services.sh up)"
  cat "$STATE/services.env"
}

cmd=${1:-}; shift || true
case $cmd in
  up|down)
    mkdir -p "$STATE"; chmod 755 "$STATE"
    exec 9>"$STATE/.lock"
    flock -w 600 9 || die "timed out waiting for the lock on $STATE"
    "cmd_$cmd" "$@" ;;
  status) cmd_status ;;
  env) cmd_env ;;
  *) echo "usage: $0 up [--lease NAME [--pid PID]] | down [--lease NAME] | status | env" >&2; exit 64 ;;
esac
