#!/usr/bin/env bash
# Install, prepare the database and start the site with its Celery worker on http://127.0.0.1:8000.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh

export DEBUG=${DEBUG:-1}
PORT=${PORT:-8000}
mkdir -p var/log
.venv/bin/python manage.py migrate --noinput
.venv/bin/python manage.py create_user demo --password demo --no-validate --if-missing

# Fetch the default COCO weights once; offline the site still runs and tagging explains what to do.
if [ -z "${TAGGING_MODEL:-}" ] || [[ "${TAGGING_MODEL}" != */* && "${TAGGING_MODEL}" != *.pt* ]]; then
  timeout 300 .venv/bin/python manage.py download_weights ${TAGGING_MODEL:-fasterrcnn_mobilenet_v3_large_fpn} \
    || echo "WARNING: could not download detector weights; uploads will be marked failed with instructions." >&2
fi

# One worker process serves both tagging lanes (fresh uploads on detection, re-tags on detection-bulk;
# fresh work goes first) and runs the periodic sweeper (-B); a second, small one delivers webhooks
# (their own queue: a slow receiver never holds up tagging; it loads no model).
# Workers run with DEBUG=0 (WORKER_DEBUG=1 to change): with DEBUG on, Django keeps every query in memory.
DEBUG="${WORKER_DEBUG:-0}" .venv/bin/celery -A assetsite worker -Q detection,detection-bulk,celery -B --concurrency "${WORKER_CONCURRENCY:-1}" \
  -n "detection@%h" --loglevel INFO >var/log/worker.log 2>&1 &
WORKER_PID=$!
DEBUG="${WORKER_DEBUG:-0}" .venv/bin/celery -A assetsite worker -Q "${WEBHOOK_QUEUE:-webhooks}" --concurrency "${WEBHOOK_WORKER_CONCURRENCY:-2}" \
  -n "webhooks@%h" --loglevel INFO >var/log/webhook-worker.log 2>&1 &
WEBHOOK_WORKER_PID=$!
trap 'kill $WORKER_PID $WEBHOOK_WORKER_PID 2>/dev/null; wait $WORKER_PID $WEBHOOK_WORKER_PID 2>/dev/null' EXIT INT TERM

cat <<BANNER

  assetsite is starting on http://127.0.0.1:${PORT}/
  Log in as:  demo / demo
  Worker logs: var/log/worker.log, var/log/webhook-worker.log      Stop with Ctrl-C.

BANNER
.venv/bin/python manage.py runserver "127.0.0.1:${PORT}"
