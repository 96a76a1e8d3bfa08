#!/usr/bin/env bash
# Make sure what the tests need is running before `make test`:
#   - Redis on 127.0.0.1:6379 and PostgreSQL on 127.0.0.1:5432 (database `test`, trust auth);
#   - Debian's Chromium at /usr/bin/chromium for the browser tests.
#   - Pango and HarfBuzz-subset for WeasyPrint (packet.pdf, report PDFs).
# Started if installed but stopped; installed with apt-get when we are root on Debian/Ubuntu
# (as on CI); otherwise we say exactly what is missing and how to get it, and fail.
# Set TOCSIN_SKIP_REDIS=1, TOCSIN_SKIP_POSTGRES=1 or TOCSIN_SKIP_BROWSER=1 to run without one
# (the tests that need it are then skipped, and say so).
set -u
fail=0
say() { printf 'ensure-services: %s\n' "$*"; }
can_apt() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; }
apt_updated=0
apt_install() {
  if [ $apt_updated = 0 ]; then apt-get update -qq >/dev/null 2>&1 || true; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() { for _ in $(seq 1 50); do port_open "$1" && return 0; sleep 0.2; done; return 1; }

if [ "${TOCSIN_SKIP_REDIS:-}" != 1 ] && ! port_open 6379; then
  if ! command -v redis-server >/dev/null 2>&1 && can_apt; then say "installing redis-server"; apt_install redis-server; fi
  if command -v redis-server >/dev/null 2>&1; then
    say "starting Redis on 127.0.0.1:6379"
    mkdir -p /tmp/tocsin-redis
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
      --dir /tmp/tocsin-redis --logfile /tmp/tocsin-redis/redis.log >/dev/null
    wait_port 6379 || { say "Redis did not start (see /tmp/tocsin-redis/redis.log)"; fail=1; }
  else
    say "MISSING: Redis. Install it (Debian: apt-get install redis-server) or set TOCSIN_SKIP_REDIS=1"; fail=1
  fi
fi

if [ "${TOCSIN_SKIP_POSTGRES:-}" != 1 ] && ! port_open 5432; then
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1 && can_apt; then say "installing postgresql"; apt_install postgresql; fi
  if command -v pg_ctlcluster >/dev/null 2>&1 && ls /etc/postgresql/*/main >/dev/null 2>&1; then
    ver=$(ls /etc/postgresql | sort -n | tail -1)
    say "starting PostgreSQL $ver"
    pg_ctlcluster --skip-systemctl-redirect "$ver" main start >/dev/null 2>&1 || true
    wait_port 5432 || { say "PostgreSQL did not start"; fail=1; }
  else
    say "MISSING: PostgreSQL on 127.0.0.1:5432. Install it, or point TOCSIN_TEST_POSTGRES_URL at one, or set TOCSIN_SKIP_POSTGRES=1"; fail=1
  fi
fi

if [ "${TOCSIN_SKIP_POSTGRES:-}" != 1 ] && port_open 5432 && command -v psql >/dev/null 2>&1 \
   && [ -z "${TOCSIN_TEST_POSTGRES_URL:-}" ]; then
  # The tests create throwaway databases next to `test`; make sure we can log in as postgres.
  if ! psql -h 127.0.0.1 -U postgres -d postgres -Atc 'select 1' >/dev/null 2>&1; then
    say "cannot log in to PostgreSQL as postgres@127.0.0.1 without a password; set TOCSIN_TEST_POSTGRES_URL"; fail=1
  fi
fi

if [ "${TOCSIN_SKIP_BROWSER:-}" != 1 ] && [ ! -x /usr/bin/chromium ]; then
  if can_apt; then say "installing Debian's chromium (browser tests)"; apt_install chromium; fi
  [ -x /usr/bin/chromium ] || { say "MISSING: /usr/bin/chromium. Install Debian's chromium package or set TOCSIN_SKIP_BROWSER=1"; fail=1; }
fi
# WeasyPrint (packet.pdf, report PDFs) needs Pango and HarfBuzz's subsetter from the system.
if ! ldconfig -p 2>/dev/null | grep -q 'libharfbuzz-subset.so.0' || ! ldconfig -p 2>/dev/null | grep -q 'libpangoft2-1.0.so.0'; then
  if can_apt; then say "installing Pango and HarfBuzz-subset (PDF rendering)"; apt_install libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 || true; fi
  ldconfig -p 2>/dev/null | grep -q 'libpangoft2-1.0.so.0' || { say "MISSING: Pango (Debian: apt-get install libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0), needed for PDFs"; fail=1; }
fi
# `docker compose config` (or the older docker-compose) validates docker-compose.yml in the tests.
if ! docker compose version >/dev/null 2>&1 && ! command -v docker-compose >/dev/null 2>&1 && can_apt; then
  say "installing docker-compose (to validate docker-compose.yml)"; apt_install docker-compose || true
fi
exit $fail
