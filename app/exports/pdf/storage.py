"""Where exports live on disk, below ``Settings.pdf_storage_path``:

- ``chunks/ab/abcdef....pdf``: rendered list chunks, named by their content hash (the cache);
- ``exports/ID/list.pdf``: an export's list, assembled once, removed when its files are done;
- ``exports/ID/CODE.pdf``: the file for one recipient (``PdfFile.path`` is relative).
"""

from __future__ import annotations

from pathlib import Path

from app.config import Settings


def chunk_path(settings: Settings, content_hash: str) -> Path:
    return settings.pdf_storage_path / "chunks" / content_hash[:2] / f"{content_hash}.pdf"


def export_dir(settings: Settings, export_id: int) -> Path:
    return settings.pdf_storage_path / "exports" / str(export_id)


def list_path(settings: Settings, export_id: int) -> Path:
    return export_dir(settings, export_id) / "list.pdf"


def file_relative_path(export_id: int, code: str) -> str:
    return f"exports/{export_id}/{code}.pdf"
