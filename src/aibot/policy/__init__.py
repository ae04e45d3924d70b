"""Policies an admin sets in config: sensitive words, limits, access, routes, cache, canary."""
