"""Counters: derived signature counts (kept by a batched job, rebuilt by ``recount``) and every
public read of them: count.json, the badge, the embed page and script, served from memory."""
