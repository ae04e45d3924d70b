"""Tools the model may call: the built-ins, MCP servers, the registry that offers and runs them
with audit, metrics and bounds, and the user's approval of `confirm` tools.

The core runs the loop (`core/tool_loop.py`) over the `ToolBox` protocol this room implements.
"""
