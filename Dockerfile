# One image for the site, the workers and the scheduler (docker-compose.yml runs them all from it).
#
#   docker build -t assetsite .                                                          # PyPI's torch (CUDA + CPU)
#   docker build -t assetsite --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu .   # CPU only, smaller
#
# tests/test_deploy.py checks these steps against docs/operations.md and replays the ones that need
# no Docker engine (the build context, the package install, collectstatic).
FROM python:3.11-slim

ARG TORCH_INDEX_URL=""

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VAR_DIR=/data \
    MEDIA_ROOT=/data/media \
    TAGGING_WEIGHTS_DIR=/data/weights \
    STATIC_ROOT=/app/staticfiles \
    LOG_FORMAT=json \
    WEB_CONCURRENCY=3

WORKDIR /app

# Dependencies first, in a layer of their own, so a code change does not reinstall PyTorch: the
# project is installed from its pyproject.toml with empty packages, then removed again.
COPY pyproject.toml README.md ./
RUN if [ -n "$TORCH_INDEX_URL" ]; then \
        pip install --index-url "$TORCH_INDEX_URL" "torch==2.14.1" "torchvision==0.29.1"; \
    fi \
    && mkdir -p assetsite media albums tagging search review library integrations \
    && for app in assetsite media albums tagging search review library integrations; do touch $app/__init__.py; done \
    && pip install ".[s3]" \
    && pip uninstall -y assetsite \
    && rm -rf assetsite media albums tagging search review library integrations build *.egg-info

# The code. .dockerignore keeps .venv, var/, .git and caches out.
COPY . .
RUN pip install --no-deps . \
    && rm -rf build *.egg-info \
    # Static files for WhiteNoise, with the production storage (hashed names + manifest), as DEBUG=0 needs.
    && DEBUG=0 SECRET_KEY=collectstatic-only VAR_DIR=/tmp/build python manage.py collectstatic --noinput \
    && rm -rf /tmp/build \
    && useradd --create-home --uid 1000 app \
    && mkdir -p /data/media /data/weights \
    && chown -R app /data

USER app
VOLUME ["/data"]
EXPOSE 8000
CMD ["gunicorn", "assetsite.wsgi:application", "--bind", "0.0.0.0:8000", "--timeout", "120"]
