"""The one Jinja2 environment: mail (templates/email), web pages (templates/web) and the feeds'
index page, all shipped inside the package; an operator's mail.templates folder overrides the
email ones by name.

Autoescaping is on for .html and off for .txt; an unknown name is an error, never an empty
string; and a template that fails is a TemplateProblem naming the file and line. Texts are
translated with `{% trans %}` and `_()` (jinja2.ext.i18n): each render gets the gettext of its
reader's language in its context, so one environment serves every language at once.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from jinja2 import (
    BaseLoader,
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    PrefixLoader,
    StrictUndefined,
    TemplateError,
    TemplateSyntaxError,
    select_autoescape,
)
from markupsafe import Markup

from publisher.errors import PublisherError
from publisher.i18n import ENGLISH, Texts
from publisher.languages import written_in


class TemplateProblem(PublisherError):
    """A template that cannot be rendered (syntax, or a name it uses is not known)."""


class _FolderEnvironment(Environment):
    def join_path(self, template: str, parent: str) -> str:
        # `{% extends "base.html" %}` in email/digest.html means email/base.html: each folder
        # (and an operator's own) keeps its names, as when it had an environment of its own.
        folder = parent.rpartition("/")[0]
        return f"{folder}/{template}" if folder and "/" not in template else template


@cache
def environment(operator_mail_folder: str = "") -> Environment:
    """Compiled templates are cached per environment, so there is one per operator folder."""
    loaders: list[BaseLoader] = []
    if operator_mail_folder:
        loaders.append(PrefixLoader({"email": FileSystemLoader(operator_mail_folder)}))
    loaders.append(PackageLoader("publisher", "templates"))
    env = _FolderEnvironment(loader=ChoiceLoader(loaders), undefined=StrictUndefined,
                             autoescape=select_autoescape(["html"], default_for_string=True),
                             keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True,
                             extensions=["jinja2.ext.i18n"])
    env.policies["ext.i18n.trimmed"] = True  # a {% trans %} block's text is its words, not its layout
    env.globals["lang_attr"] = lang_attr
    return env


def lang_attr(text: str, language: str) -> Markup:
    """` lang="en"` on an element whose text (a release's, as its source wrote it) is in another
    language than the document's (WCAG 2.1 SC 3.1.2; and a Chinese font would draw English
    quotes full-width); nothing when they agree."""
    tag = written_in(text)
    return Markup(f' lang="{tag}"') if tag and tag != language.replace("_", "-") else Markup("")


def render(name: str, context: dict[str, Any], operator_mail_folder: str = "", *,
           texts: Texts = ENGLISH) -> str:
    """Render `name` (e.g. "email/digest.html", "web/release.html") in the language of `texts`."""
    translated = {"gettext": texts.gettext, "_": texts.gettext, "ngettext": texts.ngettext,
                  "language": texts.language, **context}
    try:
        return environment(operator_mail_folder).get_template(name).render(translated)
    except TemplateSyntaxError as exc:
        raise TemplateProblem(f"template {exc.filename or name}: line {exc.lineno}: {exc.message}") from None
    except TemplateError as exc:
        raise TemplateProblem(f"template {_as_operator_knows_it(name)}: {exc}") from None


def _as_operator_knows_it(name: str) -> str:
    """`digest.txt`, as in mail.templates, not `email/digest.txt`."""
    return name.removeprefix("email/")
