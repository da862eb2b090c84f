"""Signed PDF letters for every recipient: the signatory list rendered once per export in
cached chunks (jobs any worker may take), merged per recipient with continuous page numbers.

- ``models``: exports, their chunks, and the finished files (with verification codes).
- ``service``: the API other features use (start an export, progress, files, lookup by code).
- ``plan``: reads the signatures by keyset and cuts them into chunks keyed by their content.
- ``render``: WeasyPrint documents (front matter and list chunks) with a closed url_fetcher.
- ``merge``: pikepdf assembly, footer and page numbers stamped at merge time.
- ``jobs``: the job handlers; ``local``: the same work done in-process on every core.
- ``signing``: the hook every finished file passes through (no-op unless configured).
"""
