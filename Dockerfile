# syndication: worker + HTTP server. Data (the SQLite store) and the published output live on
# volumes; mount your own YAML at /app/config/syndication.yaml (or set SYNDICATION_CONFIG).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    SYNDICATION_CONFIG=/app/config/syndication.yaml \
    SYNDICATION_STORE=sqlite:////data/syndication.db \
    SYNDICATION_OUTPUT=/public \
    SYNDICATION_HOST=0.0.0.0 \
    SYNDICATION_PORT=8080

WORKDIR /app
COPY pyproject.toml README.md ./
COPY syndication ./syndication
RUN pip install . && useradd --system --uid 10001 --home-dir /app syndication \
    && mkdir -p /data /public && chown syndication:syndication /data /public
COPY config ./config

USER syndication
VOLUME ["/data", "/public"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4).status == 200 else 1)"
STOPSIGNAL SIGTERM
CMD ["syndication", "run"]
