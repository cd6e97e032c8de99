"""Password hashing with argon2id. Hashing is CPU-heavy, so callers on the event loop
use the async wrappers, which run it in a worker thread."""

from __future__ import annotations

import asyncio
import os

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# CRM_ARGON2_FAST lowers the cost for test suites only; never set it in production.
_hasher = (
    PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    if os.environ.get("CRM_ARGON2_FAST") == "1"
    else PasswordHasher()
)
# Verified against when the username is unknown, so both paths cost the same time.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


async def hash_password_async(password: str) -> str:
    return await asyncio.to_thread(hash_password, password)


async def verify_password_async(password_hash: str | None, password: str) -> bool:
    return await asyncio.to_thread(verify_password, password_hash or "", password)


def validate_password(password: str) -> str | None:
    """The reason a new password is refused, or None."""
    if len(password) < 8:
        return "Password must have at least 8 characters."
    if len(password) > 1024:
        return "Password is too long."
    return None
