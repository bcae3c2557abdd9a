"""A real IMAP server for tests: Debian's Dovecot on 127.0.0.1 with a throwaway config, a
self-signed certificate for 127.0.0.1, and one mailbox (the bounce address) in a Maildir."""

from __future__ import annotations

import functools
import imaplib
import os
import pwd
import shutil
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from mailserver import free_port

USER, PASSWORD = "bounces@ilo.org", "correct horse battery"

_CONFIG = """\
protocols = imap
listen = 127.0.0.1
base_dir = {dir}/run
state_dir = {dir}/state
instance_name = publisher-test-{port}
log_path = {dir}/dovecot.log
{users}
ssl = required
ssl_cert = <{dir}/cert.pem
ssl_key = <{dir}/key.pem
auth_mechanisms = plain login
first_valid_uid = 1
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {dir}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={dir}/mail/%u
}}
mail_location = maildir:~/Maildir
namespace inbox {{
  inbox = yes
  separator = /
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    port = {starttls_port}
  }}
  inet_listener imaps {{
    port = {port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
"""


@dataclass
class ImapServer:
    port: int  # IMAPS
    starttls_port: int  # IMAP, then STARTTLS
    ca_file: Path  # the self-signed certificate, to trust

    def client(self) -> imaplib.IMAP4_SSL:
        context = ssl.create_default_context(cafile=str(self.ca_file))
        client = imaplib.IMAP4_SSL("127.0.0.1", self.port, ssl_context=context, timeout=10)
        client.login(USER, PASSWORD)
        return client

    def deliver(self, *messages: bytes) -> None:
        client = self.client()
        for raw in messages:
            status, reply = client.append("INBOX", None, None, raw)
            assert status == "OK", reply
        client.logout()

    def count(self, folder: str) -> int:
        """How many messages `folder` holds (0 when it does not exist)."""
        client = self.client()
        status, data = client.select(f'"{folder}"', readonly=True)
        client.logout()
        return int(data[0] or 0) if status == "OK" else 0


@contextmanager
def dovecot() -> Iterator[ImapServer]:
    folder = Path(tempfile.mkdtemp(prefix="publisher-imap-"))  # not under pytest's 0700 folders:
    folder.chmod(0o755)  # Dovecot's mail process runs as its own user
    process: subprocess.Popen[bytes] | None = None
    try:
        server, process = _start(folder)
        yield server
    finally:
        _stop_later(process, folder)


def _stop_later(process: subprocess.Popen[bytes] | None, folder: Path) -> None:
    """Dovecot stopped and its folder removed while the next test runs: it takes a second to
    stop (its master waits for its processes), which each of the nine IMAP tests spent waiting.
    Each port and folder is the server's own, so the next one does not wait for it; the test
    process does, as it ends (the thread is not a daemon)."""
    def stop() -> None:
        if process is not None:
            process.terminate()
            process.wait(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)

    threading.Thread(target=stop, name="dovecot-stop").start()


@functools.cache
def _certificate() -> tuple[bytes, bytes]:
    """One self-signed certificate for 127.0.0.1 per test process (an RSA key takes openssl a
    good part of a second to make), as (key, certificate)."""
    with tempfile.TemporaryDirectory() as folder:
        key, cert = Path(folder) / "key.pem", Path(folder) / "cert.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", str(key), "-out", str(cert)],
                       check=True, capture_output=True, timeout=60)
        return key.read_bytes(), cert.read_bytes()


def _start(folder: Path) -> tuple[ImapServer, subprocess.Popen[bytes]]:
    key, cert = _certificate()
    (folder / "key.pem").write_bytes(key)
    (folder / "key.pem").chmod(0o600)
    (folder / "cert.pem").write_bytes(cert)
    (folder / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}::::::\n")
    for sub in ("run", "state", "mail"):
        (folder / sub).mkdir()
    mail_user = pwd.getpwnam("dovecot") if os.getuid() == 0 else pwd.getpwuid(os.getuid())
    os.chown(folder / "mail", mail_user.pw_uid, mail_user.pw_gid)
    # As root, Dovecot drops to its own users; as anybody else, everything runs as that user.
    users = "" if os.getuid() == 0 else (f"default_login_user = {mail_user.pw_name}\n"
                                         f"default_internal_user = {mail_user.pw_name}")
    server = ImapServer(free_port(), free_port(), folder / "cert.pem")
    (folder / "dovecot.conf").write_text(_CONFIG.format(
        dir=folder, port=server.port, starttls_port=server.starttls_port, users=users,
        uid=mail_user.pw_uid, gid=mail_user.pw_gid))
    process = subprocess.Popen(["dovecot", "-F", "-c", str(folder / "dovecot.conf")],  # in the foreground
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 15
    while True:
        try:
            server.client().logout()
            return server, process
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                log = folder / "dovecot.log"
                raise RuntimeError(f"Dovecot did not answer: {log.read_text() if log.exists() else ''}") from None
            time.sleep(0.1)
