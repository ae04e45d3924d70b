"""The PromQL of the shipped alert rules and Grafana dashboard, and the metric names it reads."""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from aibot.deploy.options import DeployOptions
from aibot.deploy.render import render

# Where `ai-bot deploy compose` writes them, relative to its output directory.
ALERTS = "deploy/prometheus/alerts.yml"
DASHBOARD = "deploy/grafana/provisioning/dashboards/ai-bot.json"
# Series that come from Prometheus itself or from node_exporter, not from the gateway.
EXTERNAL_METRICS = frozenset({"up", "node_filesystem_avail_bytes", "node_filesystem_size_bytes"})
# Grafana's own variables, replaced by a duration when the panel is drawn.
GRAFANA_RANGE = re.compile(r"\$__(rate_)?interval|\$__range")

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_MATCHERS = re.compile(r"\{[^}]*\}")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_RANGE = re.compile(r"\[[^\]]*\]")
_IDENTIFIER = re.compile(r"(?<![\w.$])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?")
_KEYWORDS = frozenset(
    {
        "and",
        "or",
        "unless",
        "bool",
        "offset",
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "inf",
        "nan",
    }
)


def rendered(name: str) -> str:
    """One file of the default Compose stack, as `ai-bot deploy compose` writes it."""
    return render("compose", DeployOptions())[name]


def alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(rendered(ALERTS))["groups"]
    return [rule for group in groups for rule in group["rules"]]


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(rendered(DASHBOARD))
    return loaded


def dashboard_queries() -> list[str]:
    """Every panel's PromQL with Grafana's interval variables made a concrete 5m."""
    return [
        GRAFANA_RANGE.sub("5m", target["expr"])
        for panel in dashboard()["panels"]
        for target in panel["targets"]
    ]


def metric_names(expr: str) -> set[str]:
    """The series names an expression selects: identifiers that are not functions, keywords,
    label names (inside `{}` or a `by (…)` clause) or durations."""
    stripped = _RANGE.sub("", _GROUPING.sub("", _MATCHERS.sub("{}", _STRING.sub('""', expr))))
    return {
        match.group(1)
        for match in _IDENTIFIER.finditer(stripped)
        if match.group(2) is None and match.group(1).lower() not in _KEYWORDS
    }
