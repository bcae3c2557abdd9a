"""Fetching a source over http(s): a conditional GET, bounded in size, in time (the whole answer,
not each read: a server sending a byte a second is cut off too) and in redirects (at most
MAX_REDIRECTS, and only to http(s))."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import Message
from http.client import HTTPMessage, HTTPResponse
from typing import IO
from urllib.parse import urljoin, urlsplit

from publisher.errors import InputError

MAX_REDIRECTS = 5
_CHUNK = 65_536

USER_AGENT = "publisher (press-release feeds; +https://pypi.org/project/feedgen/)"


class HttpError(InputError):
    """The server answered with an error status (`status`)."""

    def __init__(self, url: str, status: int, reason: str) -> None:
        super().__init__(url, "", f"HTTP {status} {reason}")
        self.status = status


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
    deadline = time.monotonic() + timeout
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            body = _read(response, url, max_bytes, deadline, timeout)
            info: Message = response.headers
            return Fetched(False, body, info.get_content_type(),
                           info.get_content_charset() or "utf-8", info.get("ETag"),
                           info.get("Last-Modified"))
    except urllib.error.HTTPError as exc:
        if exc.code == 304:
            return Fetched(True, etag=etag, last_modified=last_modified)
        if 300 <= exc.code < 400:
            raise InputError(url, "", f"more than {MAX_REDIRECTS} redirects, or a redirect loop "
                             f"(the last: HTTP {exc.code})") from None
        raise HttpError(url, exc.code, exc.reason) from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise InputError(url, "", f"cannot fetch: {reason}") from None


def _read(response: HTTPResponse | IO[bytes], url: str, max_bytes: int, deadline: float, timeout: float) -> bytes:
    """The body, a chunk at a time, as long as it stays within the size and the time."""
    parts: list[bytes] = []
    size = 0
    read = getattr(response, "read1", response.read)  # what has come, without waiting for a whole chunk
    while chunk := read(min(_CHUNK, max_bytes + 1 - size)):
        parts.append(chunk)
        size += len(chunk)
        if size > max_bytes:
            raise InputError(url, "", f"the response is larger than {max_bytes} bytes")
        if time.monotonic() > deadline:
            raise InputError(url, "", f"the response took longer than {timeout:g} s")
    return b"".join(parts)


class _Redirects(urllib.request.HTTPRedirectHandler):
    max_redirections = MAX_REDIRECTS

    def http_error_302(self, req: urllib.request.Request, fp: IO[bytes], code: int, msg: str,
                       headers: HTTPMessage) -> IO[bytes] | None:
        address = urljoin(req.full_url, headers.get("Location") or headers.get("URI") or "")
        scheme = urlsplit(address).scheme
        if scheme not in ("http", "https"):
            fp.close()
            raise InputError(req.full_url, "", f"a redirect to a {scheme}: address is not followed")
        return super().http_error_302(req, fp, code, msg, headers)

    http_error_301 = http_error_303 = http_error_307 = http_error_308 = http_error_302


_OPENER = urllib.request.build_opener(_Redirects)
