"""The public API's OpenAPI document (/openapi.json), and /docs: a plain page rendered from it
on the server, so reading the reference loads nothing from another site (FastAPI's own docs
pages load their scripts from a CDN, so they stay off: app.main sets docs_url=None)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from fastapi import APIRouter, Request
from fastapi.openapi.utils import get_openapi
from starlette.responses import Response

from app.counters.api import CORS_HEADERS
from app.counters.api import router as api_router
from app.kit.caching import cacheable
from app.kit.markdown import render_markdown
from app.kit.pages import render_page
from app.kit.state import app_settings

router = APIRouter()

DESCRIPTION = (
    "Read-only JSON about the public letters: what their pages show, and their counts. Any site"
    " may read it (CORS `*`); no cookies. Every answer carries a strong `ETag`: send it back in"
    " `If-None-Match` and an unchanged answer is a bodyless `304`. Answers may be cached for a"
    " few seconds (`Cache-Control`)."
)


@lru_cache(maxsize=8)
def openapi_document(title: str, base_url: str) -> str:
    document = get_openapi(
        title=f"{title} public API",
        version="1",
        description=DESCRIPTION,
        routes=api_router.routes,
        servers=[{"url": base_url}],
    )
    _bad_input_is_400(document)
    return json.dumps(document, ensure_ascii=False, sort_keys=True)


def _bad_input_is_400(document: dict[str, Any]) -> None:
    """FastAPI documents a 422 for every route with parameters; ours answer bad input with 400
    and ``{"error": ...}`` (app.main), so the document says that instead."""
    for methods in document.get("paths", {}).values():
        for operation in methods.values():
            answers = operation.get("responses", {})
            if answers.pop("422", None) is not None and "400" not in answers:
                answers["400"] = {
                    "description": "A parameter is not valid.",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/ApiError"}}
                    },
                }
    schemas = document.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)


def _document(request: Request) -> str:
    settings = app_settings(request)
    return openapi_document(settings.site_name, settings.base_url)


@router.api_route("/openapi.json", methods=["GET", "HEAD"], include_in_schema=False)
def openapi_json(request: Request) -> Response:
    response = Response(_document(request).encode(), media_type="application/json")
    return cacheable(request, response, max_age=3600, extra_headers=CORS_HEADERS)


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    type: str
    required: bool
    description: str


@dataclass(frozen=True, slots=True)
class Operation:
    method: str
    path: str
    summary: str
    description: str
    parameters: list[Field]
    responses: list[tuple[str, str, str]]  # status, description, schema name


@dataclass(frozen=True, slots=True)
class Schema:
    name: str
    fields: list[Field]


def type_of(schema: dict[str, Any]) -> str:
    """A short, readable type for a JSON Schema fragment (as FastAPI writes them)."""
    if "$ref" in schema:
        return str(schema["$ref"]).rpartition("/")[2]
    if "anyOf" in schema:
        kinds = [type_of(part) for part in schema["anyOf"]]
        return " or ".join(kinds)
    if "enum" in schema:
        return " | ".join(json.dumps(value) for value in schema["enum"])
    if "const" in schema:
        return json.dumps(schema["const"])
    kind = str(schema.get("type", "any"))
    if kind == "array":
        return f"list of {type_of(schema.get('items', {}))}"
    if "format" in schema:
        return f"{kind} ({schema['format']})"
    return kind


def reference(document: dict[str, Any]) -> tuple[list[Operation], list[Schema]]:
    operations = []
    for path, methods in document.get("paths", {}).items():
        for method, operation in methods.items():
            parameters = [
                Field(
                    name=f"{p['name']} ({p['in']})",
                    type=type_of(p.get("schema", {})),
                    required=bool(p.get("required")),
                    description=str(p.get("description", "")),
                )
                for p in operation.get("parameters", [])
            ]
            responses = []
            for status, answer in operation.get("responses", {}).items():
                content = answer.get("content", {}).get("application/json", {})
                schema = type_of(content["schema"]) if "schema" in content else ""
                responses.append((status, str(answer.get("description", "")), schema))
            operations.append(
                Operation(
                    method=method.upper(),
                    path=path,
                    summary=str(operation.get("summary", "")),
                    description=str(operation.get("description", "")),
                    parameters=parameters,
                    responses=responses,
                )
            )
    schemas = []
    for name, schema in sorted(document.get("components", {}).get("schemas", {}).items()):
        required = set(schema.get("required", []))
        fields = [
            Field(
                name=field_name,
                type=type_of(field_schema),
                required=field_name in required,
                description=str(field_schema.get("description", "")),
            )
            for field_name, field_schema in schema.get("properties", {}).items()
        ]
        schemas.append(Schema(name=name, fields=fields))
    return operations, schemas


@router.api_route("/docs", methods=["GET", "HEAD"], include_in_schema=False)
def api_docs(request: Request) -> Response:
    document = json.loads(_document(request))
    operations, schemas = reference(document)
    page = render_page(
        request,
        "api/docs.html",
        {
            "title": document["info"]["title"],
            "description": render_markdown(document["info"]["description"]),
            "operations": operations,
            "schemas": schemas,
        },
    )
    return cacheable(request, page, max_age=3600, page=True)
