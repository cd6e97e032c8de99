#!/usr/bin/env bash
# Set up and run the whole test suite: lint, format check, type check (mypy), the
# schema file, pytest.
# The database is a temporary SQLite file unless CRM_TEST_DATABASE_URL names another
# (a PostgreSQL URL); .ci/run does both.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
./scripts/setup.sh --test || exit 1

.venv/bin/ruff check . || exit 1
.venv/bin/ruff format --check . || exit 1
# The settings are [tool.mypy] in pyproject.toml; .mypy_cache keeps reruns fast.
.venv/bin/mypy || exit 1

.venv/bin/pytest "$@"
status=$?
if [[ $status -eq 5 ]]; then
  echo "No tests were collected: that is a failure." >&2
  exit 1
fi
exit $status
