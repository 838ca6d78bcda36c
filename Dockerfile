# syntax=docker/dockerfile:1
# One image for every Relay process type; the command picks one (scripts/docker-entrypoint.sh):
#   docker build -t relay .
#   docker run --env-file .env relay release      # migrations, once per release
#   docker run --env-file .env -p 8000:8000 relay # web (the default); `worker` and `scheduler` likewise
# docker-compose.yml runs all of them with PostgreSQL and Redis. No setting or secret is baked in.

FROM python:3.11-slim AS builder

# Compilers only for a dependency without a wheel for the platform; the final stage has none of this.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*

ENV VIRTUAL_ENV=/opt/venv \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
ENV PATH="$VIRTUAL_ENV/bin:$PATH"

# The app runs from /app: its migrations/ and instance/ live beside app.py, so the venv gets an editable
# install that points there (and the `relay` command) instead of a second copy in site-packages. The
# bytecode is compiled here because the final stage's code is read-only.
WORKDIR /app
COPY . .
RUN python -m venv "$VIRTUAL_ENV" \
    && pip install -e . \
    && python -m compileall -q app.py automation integrations


FROM python:3.11-slim

ENV VIRTUAL_ENV=/opt/venv \
    PATH="/opt/venv/bin:$PATH" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PORT=8000

RUN groupadd --system --gid 10001 relay \
    && useradd --system --uid 10001 --gid relay --home-dir /app --no-create-home --shell /usr/sbin/nologin relay

WORKDIR /app
COPY --from=builder /opt/venv /opt/venv
COPY --from=builder /app /app
# The code stays root's and read-only; only instance/ (generated files of a local run) is writable.
RUN mkdir -p /app/instance && chown relay:relay /app/instance

USER 10001:10001
EXPOSE 8000

# Python's urllib, so the image needs no curl; worker and scheduler containers switch it off (compose).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('PORT', '8000'), timeout=4)"]

ENTRYPOINT ["/app/scripts/docker-entrypoint.sh"]
CMD ["web"]
