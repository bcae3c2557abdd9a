"""Who this process is, for claims on deliveries and process reports: "host:pid:random"."""

from __future__ import annotations

import os
import socket
import uuid


def process_name() -> str:
    # The random part: a pid is reused, and two senders in one process need distinct names.
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
