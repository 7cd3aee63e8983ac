# Production-like image for the API and the projection worker (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# The runtime dependencies first, read from pyproject.toml alone: this layer is rebuilt when the
# requirements change, not on every change of the source. psycopg[binary] ships its own libpq,
# so no system packages are needed.
COPY pyproject.toml ./
RUN python -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))' > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# Then the service itself, leaving the dependencies above as they are. The default store
# (sqlite:///var/ledger.sqlite3, relative to /app) lives in /app/var, owned by the user the
# service runs as; mount a volume there to keep it.
COPY . .
RUN pip install --no-deps . \
    && useradd --system --create-home --uid 10001 ledger \
    && mkdir -p /app/var \
    && chown ledger /app/var

USER ledger
VOLUME ["/app/var"]
ENV LEDGER_HOST=0.0.0.0 \
    LEDGER_PORT=8000
EXPOSE 8000

# Ready when every event store answers (GET /readyz at LEDGER_HOST:LEDGER_PORT).
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-m", "api.probe"]

CMD ["ledger", "serve"]
