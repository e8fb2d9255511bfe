# syndication: worker + HTTP server in one process (`syndication run`).
#
#   docker build -t syndication .
#   docker run -d --name syndication -p 8080:8080 \
#     -e SYNDICATION_BASE_URL=https://feeds.example.kz/ \
#     -v syndication-data:/data -v syndication-public:/public syndication
#
# The store (SQLite) lives on /data and the published output on /public, both volumes. For
# several workers on one PostgreSQL store (its driver, psycopg, is in the image), set
# SYNDICATION_STORE=postgresql+psycopg://user:${PASSWORD}@host/db and share /public. The
# image's default configuration is config/syndication.yaml (the bundled offline sample);
# mount your own folder over /app/config (it may hold articles/ and feeds/ beside the YAML)
# or point SYNDICATION_CONFIG at another file. Keep `store:`, `output:` and `serve:` on the
# ${SYNDICATION_*} variables below, as the sample does, so the volumes and the HEALTHCHECK
# stay right. See README.md, "Operations".

# The base of both stages: the official slim CPython 3.11 image. Another base works when it
# has `python` and `pip` (>= 22.3) on PATH and `useradd`; CI builds on a Debian bookworm
# base made offline (tests/system/test_image.py), with `--build-arg BASE=...`. Needs
# BuildKit (the default since Docker 23; DOCKER_BUILDKIT=1 on 20.10). No `# syntax=` line: the
# engine's built-in frontend has `RUN --mount` and needs no frontend image pulled from a
# registry.
ARG BASE=python:3.11-slim

# --- build: every dependency as a wheel --------------------------------------------------
# All dependencies ship binary wheels for CPython 3.11 on glibc (lxml, nh3, lingua, pydantic,
# SQLAlchemy, PyYAML, brotli…), so no compiler is needed; only the project itself is built.
FROM ${BASE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY syndication ./syndication
RUN pip wheel --wheel-dir /wheels .

# --- runtime: the interpreter, a venv of those wheels, the default configuration ---------
FROM ${BASE}
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH \
    SYNDICATION_CONFIG=/app/config/syndication.yaml \
    SYNDICATION_STORE=sqlite:////data/syndication.db \
    SYNDICATION_OUTPUT=/public \
    SYNDICATION_HOST=0.0.0.0 \
    SYNDICATION_PORT=8080

# The wheels are bind-mounted from the build stage, never copied into a layer; the venv has
# no pip of its own (the base image's pip installs into it), so it holds only what runs.
# (Pinning is the build stage's job: this install sees no index, only those wheels.)
# hadolint ignore=DL3013
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    python -m venv --without-pip /opt/venv \
    && PIP_ROOT_USER_ACTION=ignore \
       pip --python /opt/venv/bin/python install --no-index --find-links /wheels syndication \
    && groupadd --system --gid 10001 syndication \
    && useradd --system --uid 10001 --gid 10001 --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin syndication \
    && mkdir -p /data /public \
    && chown syndication:syndication /data /public

WORKDIR /app
COPY config ./config

USER 10001:10001
# Fails the build if the installed package cannot even load and validate its own config.
RUN syndication check

VOLUME ["/data", "/public"]
EXPOSE 8080
# No curl in the slim image: python's urllib. A 503 (store unreachable) raises, so exits 1.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('SYNDICATION_PORT', '8080'), timeout=4)"]
# The CLI installs SIGTERM/SIGINT handlers itself, so as PID 1 it stops cleanly (exit 0)
# without an init; `docker stop` waits 10 s by default, compose's stop_grace_period more.
STOPSIGNAL SIGTERM
CMD ["syndication", "run"]
