"""Static files under content-hashed names, cached for a year.

``static_url("style.css")`` gives ``/static/style.<hash>.css``; the name changes whenever the
file does, so the file can be cached ``immutable`` for a year. The plain name
(``/static/style.css``) keeps working, with a short cache, for old pages and outside links."""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from pathlib import Path

from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from app.config import STATIC_DIR

HASH_LENGTH = 12
IMMUTABLE = "public, max-age=31536000, immutable"
PLAIN = "public, max-age=3600"
_HASHED = re.compile(
    r"^(?P<stem>.+)\.(?P<hash>[0-9a-f]{" + str(HASH_LENGTH) + r"})(?P<suffix>\.[A-Za-z0-9]+)$"
)


@lru_cache(maxsize=256)
def _file_hash(path: Path, size: int, mtime_ns: int) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:HASH_LENGTH]


def content_hash(name: str, directory: Path = STATIC_DIR) -> str | None:
    """The hash of a static file's bytes (cached until its size or mtime changes)."""
    path = (directory / name).resolve()
    if directory.resolve() not in path.parents or not path.is_file():
        return None
    stat = path.stat()
    return _file_hash(path, stat.st_size, stat.st_mtime_ns)


def static_url(name: str) -> str:
    """A template helper: the file's hashed address, or its plain one if it does not exist."""
    digest = content_hash(name)
    if digest is None:
        return f"/static/{name}"
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        return f"/static/{name}.{digest}"
    return f"/static/{stem}.{digest}.{suffix}"


class HashedStaticFiles(StaticFiles):
    """Serves ``name.<hash>.ext`` as ``name.ext`` with a year-long immutable cache when the hash
    is the file's; any other name, plain or stale, with a short one."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        immutable = False
        match = _HASHED.match(path)
        if match:
            plain = f"{match['stem']}{match['suffix']}"
            directory = Path(str(self.directory))
            digest = content_hash(plain, directory)
            if digest is not None:
                path, immutable = plain, digest == match["hash"]
        response = await super().get_response(path, scope)
        if response.status_code in (200, 304):
            response.headers["cache-control"] = IMMUTABLE if immutable else PLAIN
        return response
