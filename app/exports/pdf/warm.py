"""Imported once by the rendering forkserver: WeasyPrint loaded and its fonts found, so every
child forked from it starts warm."""

from __future__ import annotations

from app.exports.pdf.render import ListEntry, render_list_chunk

render_list_chunk([ListEntry("Warm Up", "", "", "")], language="en", heading=False)
