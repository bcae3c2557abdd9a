"""The links a variant of an edition carries: each one counted (a mark where its /r/ address goes
per message, publisher/clicks/) or direct, and tagged with the digest's utm_* values when it
leads to the office's site or this one."""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit, urlunsplit

from publisher.clicks.links import LinkTarget
from publisher.config import Digest, Site
from publisher.mail.message import link_mark


class LinkBook:
    def __init__(self, site: Site, digest: Digest, *, counted: bool) -> None:
        self.counted = counted and digest.track_links
        self.links: list[LinkTarget] = []
        utm = {"utm_source": digest.utm_source, "utm_medium": digest.utm_medium,
               "utm_campaign": digest.utm_campaign}
        self._utm = urlencode({key: value for key, value in utm.items() if value})
        self._hosts = {urlsplit(site.home).hostname, urlsplit(site.base_url).hostname}

    def href(self, target: str, kind: str, release_id: int | None = None) -> str:
        """What the mail carries for a link to `target`: its mark when counted, else the address."""
        target = self._tagged(target)
        if not self.counted:
            return target
        self.links.append(LinkTarget(target, kind, release_id))
        return link_mark(len(self.links))

    def _tagged(self, target: str) -> str:
        parts = urlsplit(target)
        if not self._utm or parts.hostname not in self._hosts:
            return target
        query = f"{parts.query}&{self._utm}" if parts.query else self._utm
        return urlunsplit(parts._replace(query=query))
