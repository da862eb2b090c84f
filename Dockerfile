# Mirrors .ci/run: Debian bookworm, Python 3.11, pango and fonts for WeasyPrint.
FROM python:3.11-slim-bookworm

RUN apt-get update \
 && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /srv/undersigned
COPY pyproject.toml README.md alembic.ini babel.cfg ./
COPY app ./app
COPY templates ./templates
COPY migrations ./migrations
RUN pip install --no-cache-dir -e .

RUN useradd --system --home-dir /srv/undersigned undersigned \
 && mkdir -p /data && chown undersigned /data
USER undersigned
ENV UNDERSIGNED_DATA_DIR=/data
EXPOSE 8000

# Set UNDERSIGNED_DATABASE_URL, UNDERSIGNED_BASE_URL, UNDERSIGNED_SECRET_KEYS and the SMTP
# settings in production. Scale out with more containers running `undersigned worker`
# and `undersigned serve --no-worker` against one PostgreSQL.
CMD ["sh", "-c", "undersigned migrate && exec undersigned serve --host 0.0.0.0 --port 8000"]
