"""How a password is kept: scrypt, memory-hard, through werkzeug (Flask's own dependency),
whose hash string carries its parameters and salt, so stronger parameters later still
verify the hashes made before."""

from __future__ import annotations

from functools import cache

from werkzeug.security import check_password_hash, generate_password_hash

from models.accounts.errors import AccountError

# scrypt with N=2**15, r=8, p=1: 32 MiB and about 0.1 s a hash on one core.
METHOD = "scrypt:32768:8:1"
MIN_LENGTH = 10
# Past this, hashing a pasted book would only cost CPU.
MAX_LENGTH = 200


def check_new_password(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise AccountError("account_error_password_short", min=MIN_LENGTH)
    if len(password) > MAX_LENGTH:
        raise AccountError("account_error_password_long", max=MAX_LENGTH)
    if password != password.strip():
        raise AccountError("account_error_password_spaces")


def hash_password(password: str) -> str:
    check_new_password(password)
    return generate_password_hash(password, method=METHOD)


def password_matches(stored_hash: str | None, password: str) -> bool:
    """Whether ``password`` is the one behind ``stored_hash``. With no hash (an unknown
    login name) a hash is still checked, so both answers take the same time."""
    if len(password) > MAX_LENGTH:
        return False
    matches = check_password_hash(stored_hash or _stand_in_hash(), password)
    return matches and stored_hash is not None


@cache
def _stand_in_hash() -> str:
    """A hash of nothing anyone can type, made once per process (not at import)."""
    return generate_password_hash("\x00 no account \x00", method=METHOD)
