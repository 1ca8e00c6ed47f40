# One image for the web site, the workers and the scheduler.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    VAR_DIR=/data \
    MEDIA_ROOT=/data/media \
    TAGGING_WEIGHTS_DIR=/data/weights \
    STATIC_ROOT=/app/staticfiles

WORKDIR /app
COPY pyproject.toml README.md ./
COPY assetsite assetsite
COPY media media
COPY tagging tagging
RUN pip install --no-cache-dir ".[s3]"
COPY . .
RUN DEBUG=1 SECRET_KEY=build-only python manage.py collectstatic --noinput \
    && useradd --create-home --uid 1000 app && mkdir -p /data && chown app /data
USER app
EXPOSE 8000
CMD ["gunicorn", "assetsite.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"]
