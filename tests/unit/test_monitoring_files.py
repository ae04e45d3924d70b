"""The alert rules and the dashboard are valid for the tools that load them (issue 7).

`promtool` (Debian's prometheus package; CI installs it) checks the rules file, and the
dashboard's queries as recording rules, so a PromQL typo fails here rather than in Grafana.
Which metric names they may use is checked against a live gateway in
tests/integration/test_ops_metrics.py.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from aibot.deploy.options import DeployOptions
from aibot.deploy.render import render
from tests.support.deploy_tools import require_tool
from tests.support.monitoring_files import (
    ALERTS,
    DASHBOARD,
    alert_rules,
    dashboard,
    dashboard_queries,
    metric_names,
    rendered,
)


def promtool_check_rules(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [require_tool("promtool", "prometheus"), "check", "rules", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_alert_rules_pass_promtool(tmp_path: Path) -> None:
    (tmp_path / "alerts.yml").write_text(rendered(ALERTS), encoding="utf-8")
    result = promtool_check_rules(tmp_path / "alerts.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alert_rules())} rules found" in result.stdout


def test_promtool_rejects_a_broken_rule(tmp_path: Path) -> None:
    """The check above can fail: the same file with one expression broken does not pass."""
    broken = rendered(ALERTS).replace(
        "aibot_outbox_oldest_seconds > 300", "aibot_outbox_oldest_seconds >", 1
    )
    assert broken != rendered(ALERTS)
    (tmp_path / "alerts.yml").write_text(broken, encoding="utf-8")
    assert promtool_check_rules(tmp_path / "alerts.yml").returncode != 0


def test_dashboard_queries_are_valid_promql(tmp_path: Path) -> None:
    queries = dashboard_queries()
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:query_{n}", "expr": expr}
                    for n, expr in enumerate(queries)
                ],
            }
        ]
    }
    path = tmp_path / "dashboard-rules.yml"
    path.write_text(yaml.safe_dump(rules), encoding="utf-8")
    result = promtool_check_rules(path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_rule_says_what_to_do() -> None:
    for rule in alert_rules():
        assert rule["alert"].startswith(("AiBot", "Host")), rule["alert"]
        assert rule["labels"]["severity"] in {"warning", "critical"}
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]


def test_the_issue_s_alerts_are_there() -> None:
    """Error rate > 5 % for 5 min, p99 > 2 s, queue age, event-loop lag, circuit, disk."""
    rules = {rule["alert"]: rule for rule in alert_rules()}
    errors = rules["AiBotErrorRateHigh"]
    assert errors["for"] == "5m" and errors["expr"].strip().endswith("> 0.05")
    assert "[5m]" in errors["expr"]
    latency = rules["AiBotLatencyP99High"]["expr"]
    assert "histogram_quantile(0.99" in latency and latency.strip().endswith("> 2")
    assert "aibot_outbox_oldest_seconds" in rules["AiBotOutboxStuck"]["expr"]
    assert "aibot_inbox_oldest_seconds" in rules["AiBotInboxBacklog"]["expr"]
    assert "aibot_event_loop_lag" in rules["AiBotEventLoopLag"]["expr"]
    assert "aibot_provider_circuit_open" in rules["AiBotProviderCircuitOpen"]["expr"]
    assert "node_filesystem_avail_bytes" in rules["HostDiskSpaceLow"]["expr"]


def test_dashboard_covers_the_operating_questions() -> None:
    used = set().union(*map(metric_names, dashboard_queries()))
    for metric in (
        "aibot_messages_in_total",
        "aibot_message_seconds_bucket",
        "aibot_errors_total",
        "aibot_provider_errors_total",
        "aibot_tokens_total",
        "aibot_inbox_pending",
        "aibot_outbox_pending",
        "aibot_inbox_oldest_seconds",
        "aibot_outbox_oldest_seconds",
        "aibot_event_loop_lag_seconds",
        "aibot_feedback_total",
        "aibot_rejected_total",
        "aibot_dedupe_hits_total",
    ):
        assert metric in used, metric
    board = dashboard()
    assert board["uid"] == "ai-bot"
    uids = {target["datasource"]["uid"] for panel in board["panels"] for target in panel["targets"]}
    assert uids == {"prometheus"}  # the datasource the compose stack provisions
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids))


def test_compose_stack_loads_the_rules_and_the_dashboard() -> None:
    files = render("compose", DeployOptions())
    prometheus = yaml.safe_load(files["deploy/prometheus/prometheus.yml"])
    compose = yaml.safe_load(files["docker-compose.yml"])
    mounts = dict(
        volume.rsplit(":", 2)[:2]
        for volume in compose["services"]["prometheus"]["volumes"]
        if volume.startswith("./")
    )
    (rule_file,) = prometheus["rule_files"]
    assert mounts["./deploy/prometheus/alerts.yml"] == rule_file
    provider = yaml.safe_load(files["deploy/grafana/provisioning/dashboards/ai-bot.yml"])
    (grafana_mount,) = (
        volume
        for volume in compose["services"]["grafana"]["volumes"]
        if volume.startswith("./deploy/grafana/provisioning:")
    )
    container_dir = grafana_mount.split(":")[1]
    assert provider["providers"][0]["options"]["path"] == f"{container_dir}/dashboards"
    assert DASHBOARD in files


def test_metric_names_ignores_functions_labels_and_durations() -> None:
    expr = (
        'sum by (channel, le) (rate(aibot_x_bucket{stage!="model", a=~"b|c"}[5m])) '
        "/ on (channel) group_left sum(increase(aibot_y_total[1h] offset 5m)) > 1e-3 "
        "and up == 0"
    )
    assert metric_names(expr) == {"aibot_x_bucket", "aibot_y_total", "up"}


@pytest.mark.parametrize("expr", [rule["expr"] for rule in alert_rules()])
def test_alert_expressions_name_a_metric(expr: str) -> None:
    assert metric_names(expr)
