"""Line breaking for Chinese (and other CJK) text in what the CLI prints with rich.

rich breaks a line only at spaces and folds a "word" wider than the line at any cell. Chinese
has no spaces, so a sentence with a few Latin words in it was a handful of very long words: a
line held "API" alone before the next run was chopped, Latin words were cut in half
("web/hook"), and a line could start with "。". `CjkText` breaks as Chinese typesetting does (a
simplified UAX #14): after spaces, and between any two characters where one is wide (a CJK
character or fullwidth punctuation) unless the second is closing punctuation (，。）…) or the
first opening punctuation (（「…); never inside a Latin word that fits on a line. Text without wide
characters breaks exactly as rich breaks it.
"""

from __future__ import annotations

import unicodedata

from rich.cells import cell_len, chop_cells
from rich.console import Console, ConsoleOptions, JustifyMethod, OverflowMethod
from rich.containers import Lines
from rich.measure import Measurement
from rich.text import Text

# Never at the start of a line (closing punctuation, the prolonged sound mark), never at its end.
_NO_START = frozenset("，。、；：？！）》」』】〉〕］｝”’…・ー～,.;:!?)]}%")
_NO_END = frozenset("（《「『【〈〔［｛“‘([{")


def _wide(char: str) -> bool:
    return unicodedata.east_asian_width(char) in ("W", "F")


def units(line: str) -> list[tuple[int, str]]:
    """The pieces of one line that are never broken, each with its start and the spaces
    after it."""
    starts = [0]
    for index in range(1, len(line)):
        before, char = line[index - 1], line[index]
        if char.isspace():
            continue
        if before.isspace() or (
            char not in _NO_START and before not in _NO_END and (_wide(before) or _wide(char))
        ):
            starts.append(index)
    ends = [*starts[1:], len(line)]
    return [
        (start, line[start:end]) for start, end in zip(starts, ends, strict=True) if start < end
    ]


def breaks(line: str, width: int) -> list[int]:
    """Where to break `line` so that each part fits `width` cells: as many units on a line as
    fit (rich's greedy fill), a unit wider than a whole line folded across lines."""
    offsets: list[int] = []
    used = 0
    for start, unit in units(line):
        length = cell_len(unit.rstrip())
        if used + length <= width:
            used += cell_len(unit)
        elif length > width:
            pieces = chop_cells(unit, width)
            for piece in pieces:
                if start:
                    offsets.append(start)
                start += len(piece)
            used = cell_len(pieces[-1])
        else:
            offsets.append(start)
            used = cell_len(unit)
    return offsets


class CjkText(Text):
    """A `Text` whose lines break where Chinese allows (module docstring)."""

    def wrap(
        self,
        console: Console,
        width: int,
        *,
        justify: JustifyMethod | None = None,
        overflow: OverflowMethod | None = None,
        tab_size: int = 8,
        no_wrap: bool | None = None,
    ) -> Lines:
        text: Text = self
        if not (no_wrap or self.no_wrap) and "\t" not in self.plain:
            parts = [
                part
                for line in self.split(allow_blank=True)
                for part in line.divide(breaks(line.plain, width))
            ]
            text = self.blank_copy("\n").join(parts)
        return Text.wrap(
            text,
            console,
            width,
            justify=justify,
            overflow=overflow,
            tab_size=tab_size,
            no_wrap=no_wrap,
        )

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        """At least the widest unit (rich's own: the widest run between spaces)."""
        widest = max(
            (
                cell_len(unit.rstrip())
                for line in self.plain.splitlines()
                for _, unit in units(line)
            ),
            default=0,
        )
        measured = super().__rich_measure__(console, options)
        return Measurement(min(widest, measured.maximum), measured.maximum)
