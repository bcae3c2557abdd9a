"""Whatever arrives at the bounce address is read or refused, never a crash: the corpus,
mutated (tokens of MIME and DSN syntax, 8-bit bytes, cuts), through the readers `bounces
read` and `bounces fetch` use. A crash there fails its whole batch and every later fetch."""

from __future__ import annotations

import random
from pathlib import Path

from publisher.mail.reports import Unreadable, envelope_addresses, message_id_of, parse_message, read_report

CORPUS = Path(__file__).resolve().parent / "data" / "bounces"
TOKENS = [b"\n", b"\r\n", b"\n\n", b":", b";", b"=?utf-8?b?", b"?=", b"<", b">", b"@", b"\x00", b"\xff", b"\xe9",
          b"charset=x-no-such-charset", b"boundary=", b"--", b"Content-Transfer-Encoding: base64\n",
          b"Content-Transfer-Encoding: quoted-printable\n", b"=\n", b"Status: 5.1.1\n", b"Action: failed\n",
          b"Final-Recipient: rfc822;\n", b"message/delivery-status", b"message/rfc822",
          b"message/feedback-report", b"\t", b" "]


def mutated(rnd: random.Random, raw: bytes) -> bytes:
    data = bytearray(raw)
    for _ in range(rnd.randint(1, 8)):
        at, roll = rnd.randrange(len(data) + 1), rnd.random()
        if roll < 0.4:
            data[at:at] = rnd.choice(TOKENS)
        elif roll < 0.7:
            del data[at:at + rnd.randint(1, 50)]
        else:
            data[at:at] = bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 5)))
    return bytes(data)


def test_every_mutation_of_the_corpus_is_read_or_refused() -> None:
    corpus = [path.read_bytes().replace(b"@@VERP@@", b"bounces+1.2.abcdefghijklmnopqrst@ilo.org")
              .replace(b"@@RCPT@@", b"dead@example.org") for path in sorted(CORPUS.glob("*.eml"))]
    rnd = random.Random(20261204)
    read = refused = 0
    for _ in range(3000):
        message = parse_message(mutated(rnd, rnd.choice(corpus)))
        envelope_addresses(message), message_id_of(message)
        try:
            report = read_report(message)
        except Unreadable:
            refused += 1
        else:
            assert all(isinstance(address, str) for address in report.recipients)
            assert isinstance(report.diagnostic, str)
            read += 1
    assert read > 1000 and refused > 100  # both ways taken: the mutations are neither all harmless nor all fatal
