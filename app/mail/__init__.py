"""Mail: an outbox written in the request's transaction, delivered after commit by a worker."""
