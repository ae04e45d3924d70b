"""`ai-bot deploy filebeat` and the Compose elk profile: the Filebeat config is checked
against a schema of the Filebeat 8 options it uses (filebeat itself is not installed here),
ships the file `logging.file` names, and the Elasticsearch and Kibana images are pinned and
bound to loopback only."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
import yaml

from aibot.config import Config
from aibot.deploy.options import DeployOptions
from aibot.deploy.render import render

FILEBEAT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["filebeat.inputs", "output.elasticsearch"],
    "additionalProperties": False,
    "patternProperties": {"^(processors|setup\\.[a-z.]+|logging\\.level)$": {}},
    "properties": {
        "filebeat.inputs": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["type", "id", "paths", "parsers"],
                "properties": {
                    "type": {"const": "filestream"},
                    "id": {"type": "string", "minLength": 1},
                    "paths": {
                        "type": "array",
                        "items": {"type": "string", "pattern": "^/"},
                        "minItems": 1,
                    },
                    "parsers": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["ndjson"],
                            "properties": {
                                "ndjson": {
                                    "type": "object",
                                    "required": ["target", "expand_keys"],
                                    "properties": {"expand_keys": {"const": True}},
                                }
                            },
                        },
                    },
                },
            },
        },
        "output.elasticsearch": {
            "type": "object",
            "required": ["hosts"],
            "properties": {
                "hosts": {
                    "type": "array",
                    "items": {"type": "string", "pattern": "^https?://"},
                    "minItems": 1,
                }
            },
        },
    },
}


def filebeat(options: DeployOptions) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(render("filebeat", options)["filebeat.yml"])
    jsonschema.validate(document, FILEBEAT_SCHEMA)
    return document


def test_the_filebeat_config_ships_the_configured_log_file() -> None:
    config = Config.model_validate({"logging": {"format": "ecs", "file": "logs/gw.log"}})
    options = DeployOptions.from_config(config, {"data_dir": "/srv/ai-bot"})
    document = filebeat(options)
    assert document["filebeat.inputs"][0]["paths"] == ["/srv/ai-bot/logs/gw.log"]
    assert document["output.elasticsearch"]["hosts"] == ["http://127.0.0.1:9200"]
    chosen = DeployOptions.from_config(
        config, {"log_file": "/var/log/ai-bot.log", "elasticsearch": "https://es.internal:9200"}
    )
    document = filebeat(chosen)
    assert document["filebeat.inputs"][0]["paths"] == ["/var/log/ai-bot.log"]
    assert document["output.elasticsearch"]["hosts"] == ["https://es.internal:9200"]


@pytest.mark.parametrize(
    "choice",
    [{"log_file": "logs/x.log"}, {"log_file": "/x.log\nevil: 1"}, {"elasticsearch": "es:9200"}],
)
def test_values_that_would_inject_into_the_config_are_refused(choice: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        DeployOptions.from_config(Config(), choice)


def test_the_compose_elk_profile_is_pinned_and_on_loopback() -> None:
    files = render("compose", DeployOptions())
    services = yaml.safe_load(files["docker-compose.yml"])["services"]
    for name in ("elasticsearch", "kibana", "filebeat"):
        service = services[name]
        assert service["profiles"] == ["elk"]
        image = service["image"]
        assert ":" in image and not image.endswith(":latest"), image
        assert all(port.startswith("127.0.0.1:") for port in service.get("ports", []))
    shipped = yaml.safe_load(files["deploy/filebeat/filebeat.yml"])
    jsonschema.validate(shipped, FILEBEAT_SCHEMA)
    assert shipped["output.elasticsearch"]["hosts"] == ["http://elasticsearch:9200"]
    assert shipped["filebeat.inputs"][0]["paths"] == ["/var/lib/ai-bot/logs/ai-bot.log"]
    assert "ai-bot-data:/var/lib/ai-bot:ro" in services["filebeat"]["volumes"]
