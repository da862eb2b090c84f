"""Webhooks: organisers register HTTPS endpoints for a letter; events (goal reached, letter
closed, signatures confirmed, counts only) are delivered through the job queue, signed with
HMAC-SHA256, retried with backoff."""
