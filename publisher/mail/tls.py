"""Which certificates a TLS connection to the mail servers trusts."""

from __future__ import annotations

import ssl


def trusting(ca_file: str) -> ssl.SSLContext:
    """The system's certificates, and those of `ca_file` besides (an internal relay's or a
    private CA's), as the config promises: `create_default_context(cafile=...)` alone would
    trust the file's and no others."""
    context = ssl.create_default_context()
    if ca_file:
        context.load_verify_locations(cafile=ca_file)
    return context
