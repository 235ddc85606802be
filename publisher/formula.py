"""CSV cells a spreadsheet program will not run as formulas, whichever list separator it splits on.

Excel takes a cell starting with ``= + - @`` (or a tab or carriage return) for a formula.
It splits a CSV on the list separator of the computer's locale: ``,`` here, ``;`` in much of
the world, and Python's csv module quotes a cell holding ``,`` but not one holding ``;``. So
the text after every ``;`` in a cell is neutralised too, as the start of a cell of its own.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from typing import IO

STARTS = ("=", "+", "-", "@", "\t", "\r")
SEPARATORS = (";",)  # "," is quoted by the csv module: it never starts a cell
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_PIECES = re.compile(f"([{''.join(SEPARATORS)}])")


def neutralise(value: object) -> object:
    """A text cell with a ``'`` before each part a spreadsheet could run as a formula: its
    start and what follows each ``;`` (spaces skipped); plain numbers stay as they are.
    Anything but text is returned unchanged."""
    if not isinstance(value, str):
        return value
    pieces = _PIECES.split(value)  # text, separator, text, …
    return "".join(piece if index % 2 else _piece(piece) for index, piece in enumerate(pieces))


def _piece(text: str) -> str:
    body = text.lstrip(" ")
    if body.startswith(STARTS) and not _NUMBER.fullmatch(body.strip()):
        return text[: len(text) - len(body)] + "'" + body
    return text


class Writer:
    """``csv.writer`` (CRLF lines) whose every cell goes through ``neutralise``."""

    def __init__(self, out: IO[str]) -> None:
        self._writer = csv.writer(out, lineterminator="\r\n")

    def writerow(self, row: Iterable[object]) -> None:
        self._writer.writerow([neutralise(cell) for cell in row])

    def writerows(self, rows: Iterable[Iterable[object]]) -> None:
        for row in rows:
            self.writerow(row)
