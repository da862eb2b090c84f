"""Shared plumbing: templates, tokens, CSRF, security headers, text checks."""
