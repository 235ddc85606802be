"""Characters that make a text read otherwise than approved: direction controls, invisible ones."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

# Bidirectional embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069), marks
# (U+200E, U+200F, U+061C), zero-width ones (U+200B–U+200D, U+2060, U+FEFF), the invisible
# operators (U+2061–U+2064), the deprecated format controls (U+206A–U+206F) and U+180E.
HIDDEN = frozenset(
    [*range(0x202A, 0x202F), *range(0x2066, 0x206A), *range(0x200B, 0x2010), 0x061C,
     0x2060, *range(0x2061, 0x2065), *range(0x206A, 0x2070), 0xFEFF, 0x180E])


@dataclass(frozen=True)
class Hidden:
    """One such character: its position (1-based, in characters) and its code point."""

    position: int
    char: str

    @property
    def code(self) -> str:
        return f"U+{ord(self.char):04X}"

    @property
    def name(self) -> str:
        return unicodedata.name(self.char, "FORMAT CHARACTER")

    def describe(self, field: str) -> str:
        """The problem in both languages, naming the field, the position and the character."""
        return (f"{field} 第 {self.position} 个字符是不可见的控制字符 {self.code}（可能使内容显示得与"
                f"审定的不同），请删除 / {field}: character {self.position} is {self.code} "
                f"{self.name}, an invisible or direction-changing character that can make the "
                "text read differently from what was approved; remove it")


def first_hidden(text: str) -> Hidden | None:
    """The first direction-control or invisible character of ``text``, or None."""
    for index, char in enumerate(text):
        if ord(char) in HIDDEN:
            return Hidden(index + 1, char)
    return None
