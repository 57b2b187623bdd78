"""User text made safe to show: one line, every control character visible.

A model spec, a path, a budget entry's name, a pattern or the message of an exception raised by a
user's builder can hold anything. Before it reaches a terminal, a CI log or an XML file,
:func:`user_text` writes each character that would act instead of showing (an escape sequence, a
newline that starts a forged line, a carriage return that overwrites one, a bidirectional
override that reorders one) the way Python writes it in a string literal: ``\\x1b``, ``\\n``,
``\\r``, ``\\u202e``. Every other character, brackets and backslashes included, is left as it
is, so ``resnet50 [fast]`` stays ``resnet50 [fast]``.

Rich markup is a separate matter: the renderers hand rich :class:`rich.text.Text` objects, never
strings to parse, so ``[red]`` and ``[/]`` show as typed. This module imports nothing, so the
CLI's error line can use it however early it fails.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

__all__ = ["one_line", "user_text"]

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}

# Characters that are not controls (category Cc) but still act instead of showing: the line and
# paragraph separators (line breaks to some readers), the bidirectional embeddings, overrides and
# isolates ("Trojan source"), and the two non-characters XML 1.0 refuses.
_ACTING = frozenset("\u2028\u2029\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
                    "\u2066\u2067\u2068\u2069\ufffe\uffff")


def _acts(char: str) -> bool:
    """Whether ``char`` would act on a terminal or break a file rather than show as itself:
    C0 and C1 controls and DEL (``Cc``), lone surrogates (``Cs``, from undecodable file names),
    and :data:`_ACTING`."""
    return char in _ACTING or unicodedata.category(char) in ("Cc", "Cs")


def _visible(char: str) -> str:
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def user_text(text: object) -> str:
    """``text`` (anything; ``str()`` of it) with every acting character written visibly, so the
    result is one line that only shows: ``'a\\x1b[31m\\nb'`` -> ``'a\\\\x1b[31m\\\\nb'``.

    Text without such characters comes back unchanged; the result is valid in XML 1.0 and
    encodes to UTF-8 whatever the input held."""
    text = str(text)
    if not any(_acts(char) for char in text):
        return text
    return "".join(_visible(char) if _acts(char) else char for char in text)


def one_line(text: object) -> str:
    """:func:`user_text` of a message, its surrounding whitespace removed: what an error line
    says after ``hetcalc: error: ``."""
    return user_text(str(text).strip())


def input_words(shape: Sequence[int], inputs: str | None = None) -> str:
    """How a title states what the model ran on: its input shape (``1,3,224,224``), or all of
    its inputs in words where it has several (``1,3,224,224 + 1,1,224,224``)."""
    return inputs if inputs else ",".join(map(str, shape))
