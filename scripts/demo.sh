#!/usr/bin/env bash
# Set up, load the demo data into the embedded SQLite database, and start the server.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
./scripts/setup.sh
.venv/bin/crm-graphql demo
exec .venv/bin/crm-graphql serve "$@"
