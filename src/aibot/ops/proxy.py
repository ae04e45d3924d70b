"""Which outbound proxy an upstream URL should use, from HTTPS_PROXY / HTTP_PROXY / NO_PROXY."""

from __future__ import annotations

import urllib.parse
import urllib.request


def proxy_for(url: str) -> str | None:
    """The proxy HTTPS_PROXY/HTTP_PROXY/NO_PROXY choose for `url`, resolved once.

    aiohttp's `trust_env` would do this (and a netrc lookup in a thread) on every request.
    """
    parts = urllib.parse.urlsplit(url)
    if parts.hostname and urllib.request.proxy_bypass(parts.hostname):
        return None
    return urllib.request.getproxies().get(parts.scheme)
