"""The page for a mailed link (confirm, preferences, unsubscribe) that does not work: forged,
altered, expired, or from a test copy. It changed nothing."""

from __future__ import annotations

from fastapi.responses import HTMLResponse

from publisher.subscribers.tokens import TestCopyLink, TokenError, TokenExpired
from publisher.web.pages import Page


def link_refused(page: Page, exc: TokenError, hint: str = "") -> HTMLResponse:
    _ = page._
    if isinstance(exc, TestCopyLink):
        return page.message(_("A test copy"), _(
            "This link came in a test copy of a digest. In a subscriber's copy it opens "
            "their own page; here nothing was changed."))
    why = _("This link has expired.") if isinstance(exc, TokenExpired) else _("This link is not valid.")
    return page.message(_("This link does not work"), f"{why} {hint}".strip(), 400)
