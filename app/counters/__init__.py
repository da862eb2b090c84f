"""Counters: the live signature count, as JSON for embeds and news sites."""
