#!/usr/bin/env bash
# Install the system programs the test suite needs, from Debian's packages, when missing:
#   - PostgreSQL server programs (initdb, pg_ctl) for the throwaway test cluster
#   - git, for recording the code commit of runs
#   - Chromium, which the web UI's tests drive headless (through Playwright)
# Quiet and quick when everything is there. Without root or apt-get it only says what to
# install and exits 0: the tests that need a missing program then skip (or fail when
# LOOPML_REQUIRE_SERVICES=1) with the reason.
# It starts no service; the tests start their own PostgreSQL on a free port.
set -euo pipefail

have_postgres_server() {
  local bindir
  if command -v pg_config >/dev/null 2>&1; then
    # On Debian the client headers package ships a pg_config naming a folder that may
    # lack the server programs, so check the programs themselves.
    bindir="$(pg_config --bindir 2>/dev/null || true)"
    if [[ -n "$bindir" && -x "$bindir/initdb" && -x "$bindir/pg_ctl" ]]; then
      return 0
    fi
  fi
  for bindir in /usr/lib/postgresql/*/bin; do
    if [[ -x "$bindir/initdb" && -x "$bindir/pg_ctl" ]]; then
      return 0
    fi
  done
  command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1
}

missing=()
have_postgres_server || missing+=(postgresql)
command -v git >/dev/null 2>&1 || missing+=(git)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)

if ((${#missing[@]} == 0)); then
  exit 0
fi

if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
  echo "install-system-deps: missing system packages: ${missing[*]}" >&2
  echo "install-system-deps: install them as root, e.g. 'apt-get install ${missing[*]}';" \
    "tests that need them will be skipped until then" >&2
  exit 0
fi

echo "install-system-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

if ! have_postgres_server; then
  echo "install-system-deps: PostgreSQL was installed but initdb/pg_ctl are still not found" >&2
  exit 1
fi
