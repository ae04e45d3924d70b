"""Wiring only: builds every room from config and serves them as one ASGI app.

The only package that imports all the others; nothing imports it but the CLI. Import from the
modules (`aibot.gateway.asgi`, `aibot.gateway.build`, …): this file stays empty so that a
command needing one of them does not load the whole gateway.
"""
