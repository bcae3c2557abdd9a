"""Slugs read Chinese through publisher/ingest/pinyin.py: the same readings as pypinyin's
lazy_pinyin, from its data files, without loading its dictionaries."""

from __future__ import annotations

import random
import subprocess
import sys

from pypinyin import Style, lazy_pinyin
from pypinyin.constants import PHRASES_DICT, PINYIN_DICT, RE_HANS
from pypinyin.style import convert

from publisher.ingest.pinyin import HAN, readings, toneless


def test_every_phrase_reads_as_pypinyin_reads_it() -> None:
    table = readings()
    assert len(table.phrases) == len(PHRASES_DICT)
    assert len(table.characters) == len(PINYIN_DICT)
    differ = [phrase for phrase in PHRASES_DICT if table.pinyin(phrase) != lazy_pinyin(phrase)]
    assert differ == []


def test_mixed_texts_are_cut_and_read_as_pypinyin_does() -> None:
    """Phrases run together (where the longest match decides the cut), lone characters,
    characters without a reading, Latin, digits and punctuation between them."""
    pick = random.Random(16)
    phrases = sorted(PHRASES_DICT)
    characters = [chr(code) for code in sorted(PINYIN_DICT)]
    others = ["ILO ", "2024", "，", "：", " and ", "Ü", "\U0002a6e0", "\u3007", "（", "、"]
    texts = []
    for _ in range(6000):
        parts = []
        for _ in range(pick.randint(1, 7)):
            kind = pick.random()
            parts.append(pick.choice(phrases) if kind < 0.5 else pick.choice(characters) if kind < 0.8
                         else pick.choice(others))
        texts.append("".join(parts))
    table = readings()
    differ = [(text, table.pinyin(text), lazy_pinyin(text)) for text in texts
              if table.pinyin(text) != lazy_pinyin(text)]
    assert differ == []
    assert table.pinyin("中华人民共和国成立") == ["zhong", "hua", "ren", "min", "gong", "he", "guo", "cheng", "li"]


def test_han_characters_are_pypinyins() -> None:
    differ = [code for code in range(0x32400)
              if bool(HAN.fullmatch(chr(code))) != bool(RE_HANS.match(chr(code)))]
    assert differ == []


def test_every_reading_loses_its_tone_as_in_pypinyin() -> None:
    readings_with_tones = {reading for listed in PINYIN_DICT.values() for reading in listed.split(",")}
    readings_with_tones |= {reading for per_character in PHRASES_DICT.values()
                            for options in per_character for reading in options}
    differ = [(reading, toneless(reading)) for reading in sorted(readings_with_tones)
              if toneless(reading) != convert(reading, Style.NORMAL, True, default=reading)]
    assert differ == []
    assert toneless("lǜ") == "lv"


def test_a_chinese_slug_does_not_load_pypinyin() -> None:
    """Its dictionaries as Python objects are what the compact tables avoid (52 MB)."""
    check = ("import sys; from publisher.ingest.slugs import slugify; "
             "print(slugify('中国体面劳动研讨会'), 'pypinyin' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.split() == ["zhong-guo-ti-mian-lao-dong-yan-tao-hui", "False"]
