#!/bin/sh
# The image's entrypoint: refuse to start a service whose mailed links would point nowhere.
# Only `undersigned migrate` (schema alone, no links) and --help may run without the address.
set -eu
case "$*" in
  "undersigned migrate" | *--help* | *" -h"*) ;;
  *)
    if [ -z "${UNDERSIGNED_BASE_URL:-}" ]; then
      echo "undersigned: set UNDERSIGNED_BASE_URL to the public address readers use" \
        "(e.g. -e UNDERSIGNED_BASE_URL=https://letters.example.org): every link in mail" \
        "is built from it." >&2
      exit 64
    fi
    ;;
esac
exec "$@"
