# wgbot in a container: slim Python, a user without privileges, `wgbot run` as the process.
# Build:  docker build -t wgbot .        (or: podman build -t wgbot .)
# Secrets come as files (WGBOT_…_FILE), settings as environment or a mounted config.toml;
# compose.yaml runs it with PostgreSQL.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# pg_dump for `wgbot backup` against PostgreSQL; curl for the health check.
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-client curl \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY bot ./bot
COPY handlers ./handlers
COPY storage ./storage
RUN pip install . && rm -rf /src

RUN useradd --system --uid 10001 --home-dir /var/lib/wgbot --create-home wgbot
USER wgbot
WORKDIR /var/lib/wgbot
# The file store and the Matrix crypto store live here: mount a volume, and back it up.
VOLUME ["/var/lib/wgbot"]
# (the file store and the Matrix store default to files/ and matrix-store/ in this directory)
ENV WGBOT_HTTP__LISTEN=0.0.0.0:9464
EXPOSE 9464

HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD curl -fsS http://127.0.0.1:9464/healthz || exit 1

ENTRYPOINT ["wgbot"]
CMD ["run"]
