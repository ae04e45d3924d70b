"""The model providers a container runs with: the config's default and its fallbacks, in order,
each reading its API key from a variable of its own (issue 18: only the default was carried, so
a deployment silently lost `models.fallbacks`).

The default provider keeps the variables deployments already set (`AIBOT_MODEL_API_KEY`, and
`AIBOT_MODEL_PRESET`, `AIBOT_MODEL_BASE_URL`, `AIBOT_MODEL` that override it at run time); a
fallback's key is `AIBOT_MODEL_<NAME>_API_KEY`, named after the provider rather than its place
in the list, so reordering the fallbacks never hands one vendor another vendor's key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from aibot.config import Config, ConfigError
from aibot.config.presets import PRESETS
from aibot.i18n import N_, Phrase

# Values are pasted into YAML and Compose files: no quotes, spaces, `$` or `#`.
_BASE_URL = re.compile(r"^https?://[A-Za-z0-9.\[\]:@%_~/+-]+$")
_MODEL = re.compile(r"^[A-Za-z0-9._:/@+-]*$")
# A name is written as a quoted YAML string; `$` would start a `${VAR}` when the config loads.
_NAME = re.compile(r"^[^\x00-\x1f$]+$")
# A fallback's name becomes part of its key variable: ASCII letters and digits, `.`, `_` and `-`
# (which become `_`).
_VARIABLE_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
# The container's provider when the config has none (the DeepSeek preset), and the name every
# earlier render gave the default: it stays an alias, so `/v1` callers asking for it still work.
DEFAULT_NAME = "main"
DEFAULT_KEY_VARIABLE = "AIBOT_MODEL_API_KEY"


@dataclass(frozen=True)
class ContainerProvider:
    """One provider as the container's config.yaml names it: a preset, or the base URL of any
    OpenAI-compatible server (a custom server stays custom), or both, and its model."""

    name: str = DEFAULT_NAME
    preset: str | None = "deepseek"
    base_url: str | None = None
    model: str = ""

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(
                Phrase(N_("not a provider name for a container: '{value}'"), {"value": self.name})
            )
        if self.preset is not None and self.preset not in PRESETS:
            raise ValueError(Phrase(N_("not a provider preset: '{value}'"), {"value": self.preset}))
        if self.base_url is not None and not _BASE_URL.match(self.base_url):
            raise ValueError(
                Phrase(N_("not a base URL for a container: '{value}'"), {"value": self.base_url})
            )
        if not _MODEL.match(self.model):
            raise ValueError(
                Phrase(N_("not a model name for a container: '{value}'"), {"value": self.model})
            )

    @property
    def key_variable(self) -> str:
        """A fallback's key variable (the default's is `DEFAULT_KEY_VARIABLE`)."""
        return f"AIBOT_MODEL_{re.sub(r'[.-]', '_', self.name).upper()}_API_KEY"


@dataclass(frozen=True)
class ContainerModels:
    """The default provider and the fallbacks, in the config's order."""

    default: ContainerProvider = field(default_factory=ContainerProvider)
    fallbacks: tuple[ContainerProvider, ...] = ()

    def __post_init__(self) -> None:
        seen: dict[str, str] = {}
        for provider in self.fallbacks:
            if not _VARIABLE_PART.match(provider.name):
                raise ConfigError.of(
                    N_(
                        "models.providers.{name}: the name cannot become an environment variable "
                        "for its API key in a container; use letters, digits, '.', '_' or '-'"
                    ),
                    name=provider.name,
                )
            other = seen.setdefault(provider.key_variable, provider.name)
            if other != provider.name:
                raise ConfigError.of(
                    N_(
                        "models.providers: '{first}' and '{second}' would both read their API "
                        "key from {variable} in a container; rename one of them"
                    ),
                    first=other,
                    second=provider.name,
                    variable=provider.key_variable,
                )

    @property
    def key_variables(self) -> dict[str, str]:
        """Each key variable the container reads → the provider it belongs to, default first."""
        return {
            DEFAULT_KEY_VARIABLE: self.default.name,
            **{p.key_variable: p.name for p in self.fallbacks},
        }


def container_models(config: Config) -> ContainerModels:
    """The config's default and every fallback. No provider configured, or a default with
    neither preset nor base URL: the DeepSeek preset, chosen at run time by
    `AIBOT_MODEL_PRESET`, as before."""
    models = config.models
    name = (
        models.default if models.default in models.providers else next(iter(models.providers), None)
    )
    if name is None:
        default = ContainerProvider()
    else:
        default = _provider(config, name) or ContainerProvider(name)
    fallbacks: dict[str, ContainerProvider] = {}
    for fallback in models.fallbacks:
        if fallback == default.name or fallback in fallbacks:
            continue
        provider = _provider(config, fallback)
        if provider is None:
            raise ConfigError.of(
                N_("models.providers.{name}: set `preset` or `base_url`"), name=fallback
            )
        fallbacks[fallback] = provider
    return ContainerModels(default, tuple(fallbacks.values()))


def _provider(config: Config, name: str) -> ContainerProvider | None:
    provider = config.models.providers[name]
    if provider.preset is None and provider.base_url is None:
        return None
    return ContainerProvider(name, provider.preset, provider.base_url, provider.model or "")
