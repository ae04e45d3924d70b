"""Cleaning free text typed into the console before it reaches SQL or the audit log.

Control characters have no place in names or search terms, and PostgreSQL rejects NUL in
text outright, which would otherwise turn a stray byte into a server error.
"""

from __future__ import annotations


def printable(text: str, limit: int) -> str:
    return "".join(ch for ch in text if ch.isprintable()).strip()[:limit]
