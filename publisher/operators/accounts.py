"""Operator accounts: an address and an argon2id password hash (argon2-cffi's defaults, which
follow RFC 9106's second recommended profile)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from publisher.errors import InvalidValue, PublisherError
from publisher.store.models import Operator
from publisher.subscribers.people import email_key, normalize_email

MIN_PASSWORD = 12  # characters
MAX_PASSWORD = 1000  # argon2 hashes any length; a megabyte "password" is an attack, not a password
_HASHER = PasswordHasher()


@cache  # (a fifth of a second: made when first needed, not when the web app starts)
def _decoy() -> str:
    """Checked when the address is unknown, so an unknown address takes as long as a wrong password."""
    return _HASHER.hash("not anyone's password")


class UnknownOperator(PublisherError):
    """No operator has that address."""


def checked_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise InvalidValue(f"the password is too short: at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise InvalidValue(f"the password is too long: at most {MAX_PASSWORD} characters")
    return password


def add_operator(session: Session, email: str, password: str, now: datetime) -> Operator:
    address = normalize_email(email)
    if operator_by_email(session, address) is not None:
        raise InvalidValue(f"{address} is already an operator")
    operator = Operator(email=address, email_key=email_key(address),
                        password_hash=_HASHER.hash(checked_password(password)), created=now)
    session.add(operator)
    session.flush()
    return operator


def operator_by_email(session: Session, email: str) -> Operator | None:
    try:
        key = email_key(normalize_email(email))
    except InvalidValue:
        return None
    return session.scalars(select(Operator).where(Operator.email_key == key)).first()


def login_key(email: str) -> str:
    """What sign-in attempts are counted by: the address as the account is found by it
    (with a fullwidth `e`, `alice@example.org` is the same), so that no spelling of it escapes the limit."""
    try:
        return email_key(normalize_email(email))
    except InvalidValue:
        return email.strip().lower()


def existing_operator(session: Session, email: str) -> Operator:
    operator = operator_by_email(session, email)
    if operator is None:
        raise UnknownOperator(f"no operator has the address {email.strip()!r}")
    return operator


def all_operators(session: Session) -> Sequence[Operator]:
    return session.scalars(select(Operator).order_by(Operator.email_key)).all()


def remove_operator(session: Session, email: str) -> Operator:
    """Remove the account; its sessions and tokens go with it (ON DELETE CASCADE)."""
    operator = existing_operator(session, email)
    session.delete(operator)
    session.flush()
    return operator


def password_operator(session: Session, email: str, password: str) -> Operator | None:
    """The operator whose address and password these are, else None (in about the same time
    either way). A hash made with older parameters is renewed."""
    operator = operator_by_email(session, email) if len(password) <= MAX_PASSWORD else None
    try:
        _HASHER.verify(operator.password_hash if operator else _decoy(), password[:MAX_PASSWORD])
    except (VerificationError, InvalidHashError):
        return None
    if operator is not None and _HASHER.check_needs_rehash(operator.password_hash):
        operator.password_hash = _HASHER.hash(password)
    return operator
