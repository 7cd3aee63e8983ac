# Production-like image for the API and the projection worker (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# psycopg[binary] ships its own libpq, so no system packages are needed.
COPY . .
RUN pip install . \
    && useradd --system --create-home --uid 10001 ledger

USER ledger
EXPOSE 8000

CMD ["ledger", "serve", "--host", "0.0.0.0", "--port", "8000"]
