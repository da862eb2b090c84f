"""Exports of a letter's signatures: CSV for its organisers, and the PDF letter for its
recipients (``pdf/``)."""
