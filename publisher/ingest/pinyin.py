"""Chinese text as toneless pinyin, the readings `pypinyin.lazy_pinyin` gives, from its own data
files held as two compact tables.

pypinyin keeps its dictionaries as some 600,000 Python objects (52 MB, and more while its JSON
is parsed); only the first reading of each character and phrase is needed for a slug, so each
is kept as one string (13 MB, 17 MB at most while read). Words are cut as its
forward maximum matching cuts them (`pypinyin.seg.mmseg`, strict mode), its table of phrase
prefixes replaced by a search in the sorted phrases. tests/test_pinyin.py holds the two equal.
"""

from __future__ import annotations

import json
import re
import unicodedata
from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from importlib.util import find_spec
from pathlib import Path

# pypinyin.constants.RE_HANS (0.55), one character at a time: the characters it reads as Han.
HAN = re.compile(
    "[\u3007\ue815-\ue864\ufa18\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002a6df"
    "\U0002a703-\U0002b73f\U0002b740-\U0002b81d\U0002b825-\U0002bf6e\U0002c029-\U0002ce93\U0002d016"
    "\U0002d11b-\U0002ebd9\U0002f80a-\U0002fa1f\U00030000-\U0003134a\U000300f7-\U00031288\U00030edd"
    "\U00030ede\U00031350-\U00032389]+"
)
_TONE_MARKS = re.compile("[\u0300\u0301\u0303-\u036f]")  # all but the circumflex of ê
_KEY = re.compile(r'\s*"([^"\\]*)"\s*:\s*')
_NEXT = re.compile(r"\s*([,}])")


@dataclass(frozen=True)
class Readings:
    """The first reading of each character (by code point) and of each phrase, toneless."""

    characters: dict[int, str]
    phrases: dict[str, str]  # a phrase -> its syllables joined by spaces
    ordered: list[str]  # the phrases sorted, to ask whether a text begins one

    def pinyin(self, text: str) -> list[str]:
        """`lazy_pinyin(text)`: a syllable per Han character, other runs of text as they are."""
        out: list[str] = []
        start = 0
        for run in HAN.finditer(text):
            if run.start() > start:
                out.append(text[start:run.start()])
            for word in self._cut(run.group()):
                out.extend(self._word(word))
            start = run.end()
        if start < len(text):
            out.append(text[start:])
        return out

    def _word(self, word: str) -> list[str]:
        found = self.phrases.get(word)
        if found is not None:
            return found.split(" ")
        return [self.characters.get(ord(character), character) for character in word]

    def _begins_phrase(self, text: str) -> bool:
        at = bisect_left(self.ordered, text)
        return at < len(self.ordered) and self.ordered[at].startswith(text)

    def _cut(self, text: str) -> Iterator[str]:
        """Longest phrase first; a character alone when no phrase starts there. When the rest of
        the text begins a phrase but holds none, pypinyin gives its characters one by one."""
        rest = text
        while rest:
            longest = 0
            for end in range(1, len(rest) + 1):
                if not self._begins_phrase(rest[:end]):
                    break
                if rest[:end] in self.phrases:
                    longest = end
            else:
                if not longest:
                    yield from rest
                    return
            cut = longest or 1
            yield rest[:cut]
            rest = rest[cut:]


def toneless(syllable: str) -> str:
    """`ǚ` -> `v`, `zhōng` -> `zhong`, `ế` -> `ê`: pypinyin's NORMAL style."""
    spelled = unicodedata.normalize("NFD", syllable).replace("u\u0308", "v")
    return unicodedata.normalize("NFC", _TONE_MARKS.sub("", spelled))


@cache
def readings() -> Readings:
    """Read once per process (a quarter of a second), on the first Chinese title."""
    folder = _data_folder()
    plain: dict[str, str] = {}  # a reading with tones -> its toneless syllable, shared

    def first(reading: str) -> str:
        found = plain.get(reading)
        if found is None:
            found = plain[reading] = toneless(reading)
        return found

    by_code = json.loads((folder / "pinyin_dict.json").read_text("utf-8"))
    characters = {int(code): first(listed.split(",", 1)[0]) for code, listed in by_code.items()}
    del by_code
    phrases = {
        phrase: " ".join(first(options[0]) for options in per_character)
        for phrase, per_character in _entries((folder / "phrases_dict.json").read_text("utf-8"))
    }
    return Readings(characters, phrases, sorted(phrases))


def _data_folder() -> Path:
    """pypinyin's folder, found without importing it (importing it loads its dictionaries)."""
    spec = find_spec("pypinyin")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("pypinyin is not installed: it holds the readings of Chinese characters")
    return Path(next(iter(spec.submodule_search_locations)))


def _entries(text: str) -> Iterator[tuple[str, list[list[str]]]]:
    """A JSON object's members one at a time, so only one phrase's lists exist at once."""
    decode = json.JSONDecoder().raw_decode
    at = text.index("{") + 1
    while True:
        key = _KEY.match(text, at)
        if key is None:
            raise ValueError(f"pypinyin's phrases_dict.json: no phrase at character {at}")
        value, at = decode(text, key.end())
        yield key.group(1), value
        after = _NEXT.match(text, at)
        if after is None:
            raise ValueError(f"pypinyin's phrases_dict.json: no ',' or '}}' at character {at}")
        if after.group(1) == "}":
            return
        at = after.end()
