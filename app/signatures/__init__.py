"""Signatures: signing, confirming by emailed token, withdrawing, and the public lists."""
