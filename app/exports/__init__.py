"""Exports of a letter's signatures for its organisers: CSV (and, later, PDF)."""
