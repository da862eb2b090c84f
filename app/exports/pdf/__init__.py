"""Signed PDF letters for every recipient: the signatory list rendered once per export in
cached chunks (jobs any worker may take), merged per recipient with continuous page numbers.

- ``models``: exports, their chunks, and the finished files (with verification codes).
- ``service``: the API other features use (start an export, progress, files, lookup by code).
- ``plan``: reads the signatures by keyset and cuts them into chunks keyed by their content.
- ``documents``: what the pages show (letter text, recipient, summary), loaded once.
- ``render``: WeasyPrint documents (front matter, list chunks, footer) with a closed fetcher.
- ``isolation``: rendering in a process with memory and time limits.
- ``merge``: pikepdf assembly, footer and page numbers stamped at merge time.
- ``jobs``: the job handlers; ``local``: the same jobs taken by helper processes here.
- ``storage``: where files and cached chunks live.
- ``signing``: the hook every finished file passes through (no-op unless configured).
- ``cli``, ``synthetic``: ``undersigned export-pdf`` and ``undersigned demo --signatures``.
"""
