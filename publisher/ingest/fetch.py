"""Fetching a source over http(s): a timeout, a size limit and a conditional GET."""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import Message

from publisher.errors import InputError

USER_AGENT = "publisher (press-release feeds; +https://pypi.org/project/feedgen/)"


@dataclass(frozen=True)
class Fetched:
    not_modified: bool
    body: bytes = b""
    content_type: str = ""
    charset: str = "utf-8"
    etag: str | None = None
    last_modified: str | None = None

    def text(self, url: str) -> str:
        try:
            return self.body.decode(self.charset)
        except (UnicodeDecodeError, LookupError):
            raise InputError(url, "", f"the response is not {self.charset} text") from None


def fetch(url: str, *, etag: str | None, last_modified: str | None, timeout: float,
          max_bytes: int) -> Fetched:
    headers = {"User-Agent": USER_AGENT}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read(max_bytes + 1)
            if len(body) > max_bytes:
                raise InputError(url, "", f"the response is larger than {max_bytes} bytes")
            info: Message = response.headers
            return Fetched(False, body, info.get_content_type(),
                           info.get_content_charset() or "utf-8", info.get("ETag"),
                           info.get("Last-Modified"))
    except urllib.error.HTTPError as exc:
        if exc.code == 304:
            return Fetched(True, etag=etag, last_modified=last_modified)
        raise InputError(url, "", f"HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise InputError(url, "", f"cannot fetch: {reason}") from None
