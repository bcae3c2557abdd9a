"""HTML pages of the web app: templates/web through the one template environment, in the
reader's language (`?lang=`, else their browser's Accept-Language, else the site's)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse

from publisher.config import Country, Site
from publisher.i18n import Texts, texts
from publisher.languages import LANGUAGES, NAMES, negotiate, supported, traditional_chinese
from publisher.templating import render
from publisher.urls import DIGESTS_PATH, SUBSCRIBE_PATH


class Page:
    """The pages of one request: their language, links that keep it, and rendering."""

    def __init__(self, request: Request, site: Site) -> None:
        self.request, self.site = request, site
        self.asked = supported(request.query_params.get("lang", ""))  # ?lang=, kept in links
        default = supported(site.language) or LANGUAGES[0]
        self.texts: Texts = texts(self.asked or negotiate(request.headers.get("accept-language", ""),
                                                          default))
        self._ = self.texts.gettext
        # Asked for Traditional Chinese, given Simplified: the page says so.
        chinese_asked = request.query_params.get("lang", "") or request.headers.get("accept-language", "")
        self.simplified_only = self.texts.language == "zh_Hans" and traditional_chinese(chinese_asked)

    def link(self, path: str, **query: str) -> str:
        """A link to one of the service's pages, keeping a language the reader chose."""
        if self.asked:
            query["lang"] = self.asked
        return f"{path}?{urlencode(query)}" if query else path

    def country_choices(self, countries: Iterable[Country]) -> list[dict[str, str]]:
        """The countries a form offers, each named in the reader's language."""
        return [{"code": c.code, "name": self.texts.country(c.code, c.name)} for c in countries]

    @staticmethod
    def language_choices() -> list[dict[str, str]]:
        """The languages a reader's mail can be in, each named in itself."""
        return [{"tag": tag, "name": NAMES[tag]} for tag in LANGUAGES]

    def render(self, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        """templates/web/`name` as a response, with the language switch."""
        here = dict(self.request.query_params)
        languages = [{"tag": tag.replace("_", "-"), "name": NAMES[tag], "current": tag == self.texts.language,
                      "url": f"{self.request.url.path}?{urlencode({**here, 'lang': tag})}"}
                     for tag in LANGUAGES]
        _ = self._
        sections = [{"url": self.link(path), "name": label, "current": self.request.url.path == path}
                    for path, label in (("/", _("News")), (SUBSCRIBE_PATH, _("Subscribe")),
                                       (DIGESTS_PATH, _("Digests")), ("/feeds/", _("Feeds")))]
        html = render(f"web/{name}", {"site": self.site, "site_name": self.site.name_in(self.texts.language),
                                      "languages": languages, "sections": sections,
                                      "simplified_only": self.simplified_only, **context}, texts=self.texts)
        headers = {"Content-Language": self.texts.language.replace("_", "-"), "Vary": "Accept-Language"}
        return HTMLResponse(html, status_code=status, headers=headers)

    def message(self, title: str, text: str, status: int = 200, **context: Any) -> HTMLResponse:
        return self.render("message.html", status, title=title, message=text, **context)
