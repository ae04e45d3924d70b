"""Cron times with cronsim: small, typed (py.typed), no dependencies, maintained by the
healthchecks.io author who runs it in production (2.9, 2026), with Debian cron's documented DST
rules — a daily 02:30 job neither vanishes nor runs twice on a change day. croniter was the
usual choice, but its maintainer declared it abandoned in Dec 2024 (PyPI still carried "DO NOT
USE" into 2026) before pallets-eco adopted it; cronsim never had that gap."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from cronsim import CronSim


def next_after(expression: str, zone: str, after: float) -> float:
    """The first time strictly after `after` (UNIX seconds) that `expression` names in `zone`."""
    start = datetime.fromtimestamp(after, ZoneInfo(zone))
    return next(CronSim(expression, start)).timestamp()
