# wgbot in a container: Python, a user without privileges, `wgbot run` as the process.
# Build:  docker build -t wgbot .        (or: podman build -t wgbot .)
# On a base of your own, with Debian's python3 and python3-venv in it:
#         podman build --build-arg BASE=localhost/debian-python -t wgbot .
# Settings come from the environment (WGBOT_SECTION__KEY) or a config.toml mounted at
# /var/lib/wgbot/config.toml; secrets as files (WGBOT_…_FILE=/run/secrets/…).
# compose.yaml runs it with PostgreSQL.
ARG BASE=python:3.11-slim
FROM ${BASE}

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# pg_dump for `wgbot backup` against PostgreSQL; curl for the health check. Unpinned on purpose:
# the base's release brings its security fixes.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-client curl ca-certificates \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY bot ./bot
COPY handlers ./handlers
COPY storage ./storage
# In a virtualenv: the same step on python:3.11-slim and on a Debian base (whose Python is the system's).
RUN python3 -m venv /opt/wgbot && /opt/wgbot/bin/pip install --no-cache-dir . && rm -rf /src
ENV PATH=/opt/wgbot/bin:$PATH

RUN groupadd --system --gid 10001 wgbot \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/wgbot --create-home wgbot
USER 10001:10001
WORKDIR /var/lib/wgbot
# The file store (files/) and the Matrix crypto store (matrix-store/) live here: mount a volume,
# and back it up.
VOLUME ["/var/lib/wgbot"]
ENV WGBOT_HTTP__LISTEN=0.0.0.0:9464
EXPOSE 9464

HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:9464/healthz"]

ENTRYPOINT ["wgbot"]
CMD ["run"]
