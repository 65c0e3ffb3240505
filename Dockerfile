# syntax=docker/dockerfile:1
# PixyProxy: a slim image that runs `python -m app` as a non-root user on port 8000.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /venv
COPY requirements.lock /tmp/requirements.lock
RUN /venv/bin/pip install --requirement /tmp/requirements.lock

FROM python:3.11-slim
ENV PATH=/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIXY_HOST=0.0.0.0 \
    PIXY_PORT=8000 \
    PIXY_WORKERS=1 \
    PIXY_DATABASE_URL=sqlite:////data/pixyproxy.db \
    PIXY_STORAGE_URL=file:///data/images
RUN groupadd --system --gid 10001 pixy \
    && useradd --system --uid 10001 --gid pixy --no-create-home pixy \
    && mkdir -p /data \
    && chown pixy:pixy /data
COPY --from=build /venv /venv
WORKDIR /srv/pixyproxy
COPY app ./app
COPY sql ./sql
USER 10001:10001
EXPOSE 8000
VOLUME ["/data"]
# Liveness only: /readyz (database and store) is for the load balancer or orchestrator.
# The port opens once the schema is applied, which on a large database takes minutes (SQLite's
# 010 folds every prompt): failures only count after the start period, which the first success ends.
HEALTHCHECK --interval=15s --timeout=5s --start-period=300s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
# SIGTERM: /readyz fails for PIXY_SHUTDOWN_DRAIN_SECONDS, then requests in flight finish.
STOPSIGNAL SIGTERM
CMD ["python", "-m", "app"]
