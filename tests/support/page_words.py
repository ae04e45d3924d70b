"""What a person reads on a page, and the checks that it is all in their language.

`read_words(page)` collects every visible text node (and the placeholder, title and
aria-label attributes, the page title and the options of a select), each with whether it sits
in a `<code>` or under `translate="no"` (commands and identifiers, which stay as they are).
The checks:

- `catalog_english(pieces)`: in zh-CN, an English msgid of the catalog that shows is a string
  the page forgot to translate (a one-word msgid only when it is a whole piece of text, so a
  data value that happens to contain the word is not taken for one);
- `english_sentences(pieces)`: in zh-CN, three English words in a row outside code: a sentence
  that never went through the catalog at all;
- `chinese(pieces)`: in English, any Chinese character.
`broken_words(page)` finds a word split across two lines inside a table (the 375 px check).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from aibot.i18n.extract import forms, read_catalog

READ = """() => {
  const pieces = [];
  const add = (text, code) => {
    const clean = (text || "").replace(/\\s+/g, " ").trim();
    if (clean) pieces.push([clean, code]);
  };
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!parent || parent.closest("script, style, noscript, template")) continue;
    const option = parent.closest("option");
    if (!option && !parent.checkVisibility({ visibilityProperty: true })) continue;
    add(node.textContent, Boolean(parent.closest("code, [translate=no]")));
  }
  for (const el of document.querySelectorAll("[placeholder], [title], [aria-label]")) {
    if (!el.checkVisibility({ visibilityProperty: true })) continue;
    for (const name of ["placeholder", "title", "aria-label"]) add(el.getAttribute(name), false);
  }
  add(document.title, false);
  return pieces;
}"""

# A word split over two lines inside a table: the rectangles of its range sit on two lines.
# In a heading, a state or a button a run of Chinese counts as one word too (cut one character
# a line, it cannot be read).
BROKEN = """() => {
  const broken = [];
  for (const table of document.querySelectorAll("table")) {
    const walker = document.createTreeWalker(table, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const short = node.parentElement.closest("th, td.state, td.default, button");
      const words = short ? /[A-Za-z0-9]{2,}|[\u3400-\u9fff]{2,}/g : /[A-Za-z0-9]{2,}/g;
      for (const match of node.textContent.matchAll(words)) {
        const range = document.createRange();
        range.setStart(node, match.index);
        range.setEnd(node, match.index + match[0].length);
        const lines = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
        if (lines.size > 1) broken.push(match[0]);
      }
    }
  }
  return broken;
}"""

SENTENCE = re.compile(r"[A-Za-z]{2,}(?:[ ,'’]+[A-Za-z]{2,}){2,}")
HAN = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")
PLACEHOLDER = re.compile(r"\{[^{}]*\}")
TRIM = " .,:;()·—"
# Names read the same in every language: a msgid fragment that is only a name is not English
NAMES = frozenset({"ai-bot"})


@dataclass(frozen=True)
class Piece:
    text: str
    code: bool


async def read_words(page: Any) -> list[Piece]:
    return [Piece(text, code) for text, code in await page.evaluate(READ)]


async def broken_words(page: Any) -> list[str]:
    found: list[str] = await page.evaluate(BROKEN)
    return found


@cache
def translated_english() -> tuple[tuple[str, ...], frozenset[str]]:
    """The catalog's English that has a different Chinese, as the fragments between its
    placeholders: the phrases (two words or more) and the single words."""
    phrases: set[str] = set()
    words: set[str] = set()
    for message in read_catalog("zh-CN"):
        ids, strings = forms(message.id), forms(message.string)
        if not message.id or not all(strings) or ids == strings:
            continue
        for msgid in ids:
            for fragment in PLACEHOLDER.split(msgid):
                text = " ".join(fragment.split()).strip(TRIM)
                if " " in text and len(text) >= 6:
                    phrases.add(text)
                elif len(re.sub(r"[^A-Za-z]", "", text)) >= 3 and " " not in text:
                    words.add(text)
    words -= NAMES
    return tuple(sorted(phrases)), frozenset(words)


def catalog_english(pieces: list[Piece]) -> list[str]:
    phrases, words = translated_english()
    shown = "\n".join(p.text for p in pieces)
    found = [phrase for phrase in phrases if phrase in shown]
    found += sorted({p.text for p in pieces if not p.code and p.text.strip(TRIM) in words})
    return found


def english_sentences(pieces: list[Piece]) -> list[str]:
    return [p.text for p in pieces if not p.code and SENTENCE.search(p.text)]


def chinese(pieces: list[Piece]) -> list[str]:
    return [p.text for p in pieces if HAN.search(p.text)]
