"""A calculator for the model that never runs `eval`: the expression is parsed with `ast` and
walked over a short list of operators and functions.

Bounded so no expression can hold the event loop: its length, its node count, the size of every
integer (in bits, checked before `**`, `*` and `<<`-like growth happens) and of every exponent.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from typing import Any

from aibot.tools.base import ToolFailed

MAX_LENGTH = 500
MAX_NODES = 200
MAX_BITS = 4096  # the largest integer anywhere in the calculation (~1233 digits)
MAX_EXPONENT = 10_000

Number = int | float

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_FUNCTIONS: dict[str, Callable[..., Number]] = {
    "sqrt": math.sqrt,
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
    "asin": math.asin,
    "acos": math.acos,
    "atan": math.atan,
    "log": math.log,
    "log10": math.log10,
    "log2": math.log2,
    "exp": math.exp,
    "abs": abs,
    "round": round,
    "floor": math.floor,
    "ceil": math.ceil,
    "min": min,
    "max": max,
}
_CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e, "tau": math.tau}


def calculate(expression: str) -> Number:
    """The value of `expression`; raises ToolFailed with the reason the model can act on."""
    text = expression.strip().replace("^", "**").replace("×", "*").replace("÷", "/")
    if not text or len(text) > MAX_LENGTH:
        raise ToolFailed(f"give an expression of 1 to {MAX_LENGTH} characters")
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError):
        raise ToolFailed(f"not an arithmetic expression: {expression[:80]!r}") from None
    if sum(1 for _ in ast.walk(tree)) > MAX_NODES:
        raise ToolFailed("the expression is too long")
    try:
        return _value(tree.body)
    except ZeroDivisionError:
        raise ToolFailed("division by zero") from None
    except (OverflowError, ValueError) as exc:
        raise ToolFailed(f"cannot compute: {exc}") from None


def _value(node: ast.expr) -> Number:
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return _checked(node.value)
    if isinstance(node, ast.Name) and node.id in _CONSTANTS:
        return _CONSTANTS[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        operand = _value(node.operand)
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _value(node.left), _value(node.right)
        _precheck(node.op, left, right)
        return _checked(_BINARY[type(node.op)](left, right))
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in _FUNCTIONS
        and not node.keywords
        and 0 < len(node.args) <= 10
    ):
        return _checked(_FUNCTIONS[node.func.id](*(_value(a) for a in node.args)))
    raise ToolFailed(
        "only numbers, + - * / // % ** ( ), pi, e and " + ", ".join(_FUNCTIONS) + " are allowed"
    )


def _precheck(op: ast.operator, left: Number, right: Number) -> None:
    """Refuses, before computing it, a result whose integer would be too large to hold."""
    both_int = isinstance(left, int) and isinstance(right, int)
    if isinstance(op, ast.Pow) and isinstance(right, int) and abs(right) > MAX_EXPONENT:
        raise ToolFailed(f"exponents above {MAX_EXPONENT} are not computed")
    if isinstance(op, ast.Pow) and both_int and right > 0 and abs(left) > 1:
        grows = abs(int(left)).bit_length() * right > MAX_BITS
    elif isinstance(op, ast.Mult) and both_int:
        grows = abs(int(left)).bit_length() + abs(int(right)).bit_length() > MAX_BITS
    else:
        grows = False
    if grows:
        raise ToolFailed("the result is too large")


def _checked(value: Any) -> Number:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ToolFailed("the result is not a number")
    if isinstance(value, int) and value.bit_length() > MAX_BITS:
        raise ToolFailed("the result is too large")
    if isinstance(value, float) and not math.isfinite(value):
        raise ToolFailed("the result is not finite")
    return value
