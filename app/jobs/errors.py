"""Errors a job handler raises to say how its failure should be treated."""

from __future__ import annotations


class JobError(Exception):
    """A failure the handler understood: ``permanent`` ones are not retried."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent
