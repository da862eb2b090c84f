"""Ids in paths: a row id is a positive 32-bit integer on every engine; anything else is
refused as a bad request before it reaches the database (which would fail on it)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

RowId = Annotated[int, Path(ge=1, le=2_147_483_647)]
