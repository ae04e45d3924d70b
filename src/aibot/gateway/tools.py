"""Wiring of tools: the enabled built-ins and MCP servers as one registry, its audit into the
store's audit log, and the loop the model stage runs."""

from __future__ import annotations

from collections.abc import Callable

from aibot.config import Config
from aibot.core.approvals import Approvals
from aibot.core.commands import Command
from aibot.core.coordination import ApprovalBoard
from aibot.core.messages import TurnRecord
from aibot.core.pipeline import TurnContext
from aibot.core.tool_loop import LoopLimits, ToolLoop
from aibot.core.tool_support import ToolSupport
from aibot.i18n import N_
from aibot.ops.logging import SecretMasker
from aibot.ops.metrics import Metrics
from aibot.providers.router import ProviderRouter
from aibot.store.repository import Repository
from aibot.store.writer import GroupCommitWriter
from aibot.tools.base import LocalTool, ToolSource
from aibot.tools.builtins import Builtins, calculator_tool, current_time_tool
from aibot.tools.fetch import Fetcher, fetch_url_tool
from aibot.tools.history_search import conversation_search_tool
from aibot.tools.registry import ToolAudit, ToolRegistry
from aibot.tools.texts import nothing_waiting, question_text, status_text


def builtin_tools(
    config: Config, clock: Callable[[], float], repository: Repository
) -> list[LocalTool]:
    enabled = set(config.tools.enabled)
    tools = []
    if "current_time" in enabled:
        tools.append(current_time_tool(clock))
    if "calculator" in enabled:
        tools.append(calculator_tool())
    if "fetch_url" in enabled:
        tools.append(fetch_url_tool(Fetcher(config.tools.fetch)))
    if "conversation_search" in enabled:

        async def history(session_key: str, limit: int) -> list[TurnRecord]:
            return await repository.recent_turns(session_key, 0.0, limit)

        tools.append(conversation_search_tool(history))
    return tools


def build_tools(
    config: Config,
    *,
    router: ProviderRouter,
    metrics: Metrics,
    masker: SecretMasker,
    repository: Repository,
    writer: GroupCommitWriter,
    clock: Callable[[], float],
    on_reply: Callable[[], None],
    board: ApprovalBoard | None = None,
) -> tuple[ToolSupport, ToolRegistry, Approvals]:
    sources: list[ToolSource] = [
        Builtins(
            builtin_tools(config, clock, repository),
            timeout=max(30.0, config.tools.fetch.timeout + 5),
            confirm=config.tools.confirm,
        ),
        *mcp_servers(config),
    ]

    async def audit(entry: ToolAudit) -> None:
        await writer.submit(repository.audit(entry.actor, entry.action, entry.target, clock()))

    registry = ToolRegistry(
        sources,
        max_output_chars=config.tools.max_output_chars,
        metrics=metrics,
        masker=masker,
        audit=audit,
    )
    timeout = config.tools.confirm_timeout
    ask = question_text(max(1, round(timeout / 60)))

    def question(language: str, tool: str, arguments: str) -> str:
        """The arguments are shown with secrets and personal data masked, as in the audit."""
        return ask(language, tool, str(masker.mask(arguments, pii=True)))

    approvals = Approvals(
        repository, writer, on_reply, clock, question, timeout=timeout, board=board
    )
    loop = ToolLoop(
        registry,
        LoopLimits(config.tools.max_rounds, config.tools.budget),
        status_text,
        confirmer=approvals,
    )
    return ToolSupport(loop, router.supports_tools, config.tools.time_zone), registry, approvals


def approval_commands() -> list[Command]:
    """`/approve` and `/deny` when no question waits (an answer to one never gets here: the
    inbox hands it to `Approvals` first)."""

    async def waiting(ctx: TurnContext, _arg: str) -> str:
        return nothing_waiting(ctx.language)

    return [
        Command(("approve",), "/approve", N_("allow the tool call the assistant asked about"),
                waiting),
        Command(("deny",), "/deny", N_("refuse the tool call the assistant asked about"),
                waiting),
    ]  # fmt: skip


def mcp_servers(config: Config) -> list[ToolSource]:
    """The configured MCP servers. The MCP SDK (with its HTTP client and schemas, a third of
    the gateway's import time) is imported only when one is configured: a start without MCP
    servers does not pay for it (issue 20, cold start)."""
    if not config.tools.mcp:
        return []
    from aibot.tools.mcp_server import McpServer

    return [McpServer(name, server) for name, server in config.tools.mcp.items()]
