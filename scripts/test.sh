#!/usr/bin/env bash
# Install everything and run the whole test suite. Uses DATABASE_URL / REDIS_URL when set
# (CI points them at PostgreSQL and Redis); otherwise SQLite and a file-based broker.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh
exec .venv/bin/python -m pytest "$@"
