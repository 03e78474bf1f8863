#!/usr/bin/env bash
# Sets up everything the test suite needs on a fresh Debian machine, then runs it:
# a virtualenv with the project and its test extras, Debian's Chromium for the
# browser tests, and a running local PostgreSQL. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test,bench]'

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# Browser tests drive Debian's Chromium; Playwright never downloads a browser.
if [ ! -x /usr/bin/chromium ]; then
  echo "installing Debian's chromium for the browser tests…"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq chromium >/dev/null
fi
export WES_TEST_CHROMIUM=/usr/bin/chromium

# PostgreSQL tests need a server: start the local cluster if it is down.
export WES_TEST_POSTGRES_URL="${WES_TEST_POSTGRES_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/postgres}"
if command -v pg_isready >/dev/null && ! pg_isready -q -h 127.0.0.1 -p 5432; then
  if command -v pg_ctlcluster >/dev/null; then
    echo "starting the local PostgreSQL cluster…"
    as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
  fi
fi
if [ "${CI:-}" = "true" ] && ! pg_isready -q -h 127.0.0.1 -p 5432; then
  echo "PostgreSQL is not reachable at 127.0.0.1:5432 and CI needs it" >&2
  exit 1
fi

# Two workers (pytest-xdist): the suite takes about half as long on two cores. The browser tests stay on one
# worker, one after another (tests/browser/conftest.py). WES_TEST_WORKERS=0 runs everything in this process.
exec .venv/bin/python -m pytest -q -p no:cacheprovider -n "${WES_TEST_WORKERS:-2}" --dist loadgroup "$@"
