#!/usr/bin/env bash
# Install everything and run the whole test suite. Uses DATABASE_URL / REDIS_URL when set
# (CI points them at PostgreSQL and Redis); otherwise SQLite and a file-based broker.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh
# Tests keep their database file, broker folder and secret apart from a running dev site.
export VAR_DIR=${VAR_DIR:-$PWD/var/test}
exec .venv/bin/python -m pytest "$@"
