"""Organisers: accounts, sign-in by emailed link, sessions, the workspace under /organise, and
the audit log of every change they make."""
