# Mirrors .ci/run: Debian bookworm, Python 3.11, pango and fonts for WeasyPrint.
FROM python:3.11-slim-bookworm

RUN apt-get update \
 && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core fonts-noto-core \
 && rm -rf /var/lib/apt/lists/*

# Exactly the pinned, hash-checked dependencies (hatchling included, so the build below needs
# no network), then the project as a plain wheel: templates and migrations travel inside it,
# and the sources are removed, so the image runs what pip installed, nothing else.
COPY requirements.lock /tmp/build/
RUN pip install --no-cache-dir --require-hashes -r /tmp/build/requirements.lock
COPY pyproject.toml README.md /tmp/build/
COPY app /tmp/build/app
COPY templates /tmp/build/templates
COPY migrations /tmp/build/migrations
RUN pip install --no-cache-dir --no-deps --no-build-isolation /tmp/build && rm -rf /tmp/build
COPY scripts/docker-entrypoint.sh /usr/local/bin/undersigned-entrypoint

RUN useradd --system --home-dir /srv/undersigned --create-home undersigned \
 && mkdir -p /data && chown undersigned /data
USER undersigned
WORKDIR /srv/undersigned
ENV UNDERSIGNED_DATA_DIR=/data
EXPOSE 8000

# Set UNDERSIGNED_BASE_URL (the container refuses to start without it), and in production
# UNDERSIGNED_DATABASE_URL, UNDERSIGNED_SECRET_KEYS and the SMTP settings. Scale out with more
# containers running `undersigned worker` and `undersigned serve --no-worker` on one PostgreSQL.
#
# The deployment's migration step, run once before starting new containers:
#     docker run --rm -e UNDERSIGNED_DATABASE_URL=... IMAGE undersigned migrate
# The default command migrates too, then serves. Why both: a lone container on SQLite then
# needs one command, and on PostgreSQL `migrate` holds an advisory lock, so replicas starting
# together migrate one at a time and, after the deployment's step, find nothing to do. A
# failing migration stops the new containers before they serve, while the old ones still run.
ENTRYPOINT ["/usr/local/bin/undersigned-entrypoint"]
CMD ["sh", "-c", "undersigned migrate && exec undersigned serve --host 0.0.0.0 --port 8000"]
