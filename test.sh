#!/usr/bin/env bash
# Runs every test of jobctl: unit tests (Rust, and the web UI's JavaScript
# on Node), the API/worker/CLI integration suites
# on SQLite and PostgreSQL, the scale-out tests, the generated-docs check, the
# browser tests in headless Chromium, a schemathesis run against the api's
# OpenAPI description, and a smoke run of every benchmark (tiny
# sizes, so the benchmarks cannot rot; figures come from bench/run.sh alone).
#
# Needs: a Rust toolchain, PostgreSQL reachable at JOBCTL_TEST_DATABASE_URL
# (default postgres://postgres@127.0.0.1:5432/test), Debian's chromium and
# chromium-driver, promtool (Debian's prometheus), and a running Slurm; this
# script installs the browser and promtool and starts a one-node Slurm
# (ci/slurm.sh) when they are missing.
set -euo pipefail
cd "$(dirname "$0")"

: "${JOBCTL_TEST_DATABASE_URL:=postgres://postgres@127.0.0.1:5432/test}"
export JOBCTL_TEST_DATABASE_URL

if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  echo "test.sh: installing chromium and chromium-driver for the browser tests" >&2
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
  elif command -v sudo >/dev/null 2>&1; then
    sudo apt-get update -qq
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
  else
    echo "test.sh: cannot install chromium (not root, no sudo); browser tests will say SKIPPED" >&2
  fi
fi

# The metrics and alert-rule tests check with promtool (Debian's prometheus
# package); without it they say SKIPPED, and fail with CI=true.
if ! command -v promtool >/dev/null 2>&1; then
  echo "test.sh: installing prometheus for promtool" >&2
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  elif command -v sudo >/dev/null 2>&1; then
    sudo apt-get update -qq
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  else
    echo "test.sh: cannot install prometheus (not root, no sudo); promtool checks will say SKIPPED" >&2
  fi
fi

# The web UI's JavaScript unit tests (ANSI rendering, log line handling) run
# on Node's built-in test runner: Debian's nodejs, installed when missing.
if ! command -v node >/dev/null 2>&1; then
  echo "test.sh: installing nodejs for the web UI's JavaScript unit tests" >&2
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs >/dev/null
  elif command -v sudo >/dev/null 2>&1; then
    sudo apt-get update -qq
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs >/dev/null
  else
    echo "test.sh: cannot install nodejs (not root, no sudo)" >&2
    exit 1
  fi
fi
node --test tests/web/js/*.test.mjs

# The Slurm executor's tests need a running Slurm: ci/slurm.sh installs and
# starts a one-node cluster on this machine (as root, or through sudo).
if ! bash ci/slurm.sh --check; then
  if ! bash ci/slurm.sh; then
    echo "test.sh: Slurm could not be started; its tests say SKIPPED (and fail with CI=true)" >&2
  fi
fi

cargo test --locked "$@"

# The api against its own OpenAPI description: schemathesis (PyPI, into a
# venv under target/) with user, admin and worker tokens; about a minute.
bash tests/openapi/schemathesis.sh

# The benchmarks at toy sizes on the debug build the tests just made.
BENCH_PROFILE=dev bash bench/run.sh --smoke
