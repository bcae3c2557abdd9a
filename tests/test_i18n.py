"""The catalogs hold every text a reader sees, translated, with its placeholders intact."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from helpers import ROOT

from publisher.i18n import texts
from publisher.languages import LANGUAGES, negotiate, supported

PACKAGE = ROOT / "publisher"
_PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")


def _marked() -> set[str | tuple[str, str]]:
    """Every text the code and templates mark, as Babel extracts them (babel.cfg's rules)."""
    method_map = [("**.py", "python"), ("templates/**.html", "jinja2"), ("templates/**.txt", "jinja2")]
    options = {"templates/**.html": {"trimmed": "true"}, "templates/**.txt": {"trimmed": "true"}}
    found: set[str | tuple[str, str]] = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
            str(PACKAGE), method_map, options):
        found.add(message if isinstance(message, str) else (message[0], message[1]))
    return found


def _catalog(language: str):  # type: ignore[no-untyped-def]
    with (PACKAGE / "locale" / language / "LC_MESSAGES" / "messages.po").open("rb") as po:
        return read_po(po, locale=language)


def _key(message_id: object) -> str | tuple[str, str]:
    return (message_id[0], message_id[1]) if isinstance(message_id, tuple) else str(message_id)


@pytest.mark.parametrize("language", LANGUAGES[1:])
def test_every_marked_text_is_translated(language: str) -> None:
    marked = _marked()
    catalog = _catalog(language)
    held = {_key(message.id): message for message in catalog if message.id}
    assert sorted(map(str, marked - held.keys())) == []  # untranslated: add them (README)
    assert sorted(map(str, held.keys() - marked)) == []  # no longer used: remove them
    for key, message in held.items():
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        assert all(strings) and not message.fuzzy, f"{language}: {key!r} has no translation"
        wanted = set(_PLACEHOLDER.findall(key if isinstance(key, str) else key[1]))
        for string in strings:
            assert set(_PLACEHOLDER.findall(string)) == wanted, f"{language}: {key!r} -> {string!r}"


def test_the_template_lists_what_is_marked() -> None:
    with (PACKAGE / "locale" / "messages.pot").open("rb") as pot:
        template = {_key(message.id) for message in read_po(pot) if message.id}
    assert template == _marked()


def test_texts_come_out_in_each_language() -> None:
    assert texts("zh_Hans").gettext("Unsubscribe") == "退订"
    assert texts("mn").gettext("Unsubscribe") == "Захиалга цуцлах"
    assert texts("en").gettext("Unsubscribe") == "Unsubscribe"
    assert texts("mn").ngettext("%(num)d new release", "%(num)d new releases", 2) % {"num": 2} == \
        "2 шинэ хэвлэлийн мэдээ"


@pytest.mark.parametrize(("header", "expected"), [
    ("zh-CN,zh;q=0.9,en;q=0.8", "zh_Hans"), ("mn-MN", "mn"), ("en-GB,en;q=0.9", "en"),
    ("fr-FR,fr;q=0.9", "en"), ("fr, mn;q=0.5, zh;q=0.7", "zh_Hans"), ("zh;q=0, mn", "mn"),
    ("", "en"), ("zh-Hant-TW", "zh_Hans"), ("mn;q=abc, zh", "zh_Hans"),
])
def test_a_browsers_languages_pick_the_readers_language(header: str, expected: str) -> None:
    assert negotiate(header, "en") == expected


def test_only_languages_readers_get_are_supported() -> None:
    assert [supported(tag) for tag in ("zh_Hans", "zh-CN", "MN", "en-US", "fr", "")] == [
        "zh_Hans", "zh_Hans", "mn", "en", None, None]


def test_the_shipped_config_names_the_office_in_every_language() -> None:
    from publisher.config import load_config

    config = load_config(Path(ROOT / "config.toml"), environ={})
    assert config.site.name_in("zh_Hans") == "国际劳工组织中国和蒙古国局"
    assert set(config.digest("china-weekly").subjects) == set(LANGUAGES[1:])


def test_mail_names_its_language_with_a_bcp_47_tag(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`lang="zh_Hans"` (a locale id) in the Chinese digest and confirmation mail: the W3C
    validator rejects it and axe reports html-lang-valid. HTML wants `zh-Hans`."""
    from publisher.i18n import texts
    from publisher.templating import render

    context = {"subject": "Confirm", "site_name": "ILO", "site_url": "https://www.ilo.org",
               "recipient": "a@example.org",
               "confirm_url": "https://x.org/confirm?token=1", "country_names": "中国",
               "preferences_url": "https://x.org/preferences?token=1"}
    for name in ("confirm", "already"):
        html = render(f"email/{name}.html", context, "", texts=texts("zh_Hans"))
        assert '<html lang="zh-Hans">' in html and "zh_Hans" not in html, name


def test_the_from_name_is_the_offices_in_the_readers_language_commas_and_all() -> None:
    """Mongolian's name holds a comma: unquoted, `From:` would name two addresses. Read back as
    RFC 2047 reads it (adjacent encoded words join without a space)."""
    import email
    from datetime import UTC, datetime
    from email.header import decode_header, make_header

    from publisher.config import load_config
    from publisher.mail.letters import Letter, letter_bytes

    config = load_config(Path(ROOT / "config.toml"), environ={})
    for language, name in (("mn", config.site.names["mn"]), ("zh_Hans", "国际劳工组织中国和蒙古国局"),
                           ("en", config.site.name)):
        letter = Letter("a@example.org", "s", "t", "<p>t</p>", language=language)
        raw = letter_bytes(config.site, config.mail, letter, datetime(2026, 12, 6, tzinfo=UTC))[0]
        header = email.message_from_bytes(raw)["From"]
        assert str(make_header(decode_header(header))) in (f"{name} <beijing@ilo.org>",
                                                            f'"{name}" <beijing@ilo.org>'), language
    assert "," in config.site.names["mn"]


def test_mongolian_dates_come_in_one_style_subject_body_and_pages() -> None:
    """CLDR's short Mongolian range writes months in Roman numerals (`2021 оны XI/03 – ...`);
    the body and the pages write them out. A reader sees the one form everywhere."""
    from datetime import date

    from publisher.i18n import texts

    mongolian = texts("mn")
    first, last = date(2021, 11, 3), date(2024, 3, 7)
    assert mongolian.days(first, last) == f"{mongolian.day(first)} – {mongolian.day(last)}"
    assert mongolian.days(last, last) == mongolian.day(last) == mongolian.event(last, None)
    assert not re.search(r"\b[IVX]+/", mongolian.days(first, last))
    assert mongolian.event(first, last) == mongolian.days(first, last)


def test_a_long_subject_in_any_script_reads_back_as_written_every_fold_included() -> None:
    """The email package's folding lost the space in "(2026 оны" where a line was folded; every
    cut of these subjects must come back exactly, by RFC 2047 as Python and mail clients read it."""
    import email
    import email.policy
    from email.header import decode_header, make_header

    from publisher.mail.message import text_header

    subjects = ["[Тест] ОУХБ-ын Хятад, Монгол дахь суурин төлөөлөгчийн газар: 3 шинэ мэдээ (2026 оны арван "
                "хоёрдугаар сарын 1 – 2026 оны арван хоёрдугаар сарын 6)",
                "[测试] 国际劳工组织中国：19 条新闻稿（2021年11月3日 – 2022年6月16日） ILO “news” 2026"]
    for subject in subjects:
        for cut in range(20, len(subject) + 1):
            raw = text_header("Subject", subject[:cut]) + b"\r\nbody"
            assert all(len(line) <= 78 for line in raw.split(b"\r\n"))
            assert email.message_from_bytes(raw, policy=email.policy.default)["Subject"] == subject[:cut]
            assert str(make_header(decode_header(email.message_from_bytes(raw)["Subject"]))) == subject[:cut]
