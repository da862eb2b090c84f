"""Undersigned: open letters and petitions with verified, private signatures."""
