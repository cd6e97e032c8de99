"""Login, bearer tokens and the per-request viewer.

Tokens are opaque random strings; only their SHA-256 is stored. Session tokens expire
after the configured time; API tokens expire when their owner says so. Login attempts
are rows in the database so every server process counts the same failures.

A process reuses a token's lookup for `CRM_AUTH_CACHE_SECONDS` (`TokenCache`), so a
request costs no statement for authentication. Every write that can withdraw or change
what a token grants calls `forget_tokens()`: the process that wrote stops trusting its
entries at once; other processes see the change when their entries expire."""

from __future__ import annotations

import copy
import hashlib
import secrets
import time
from collections import OrderedDict, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from tortoise.expressions import Q

from crm_graphql.errors import ErrorCode
from crm_graphql.models.auth import AuthToken, LoginAttempt, TokenKind, TokenScope
from crm_graphql.models.users import PERMISSION_BITS, Assignment, User
from crm_graphql.services.files.transactions import on_commit
from crm_graphql.services.passwords import verify_password_async
from crm_graphql.settings import Settings

TOKEN_PREFIX = "crm_"  # noqa: S105  (a marker, not a secret)
# Tokens in use are touched at most this often, so reads stay reads.
_TOUCH_EVERY = timedelta(minutes=5)


def now() -> datetime:
    return datetime.now(UTC)


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def new_secret() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


@dataclass
class Viewer:
    """The authenticated caller, loaded once per request."""

    user: User
    bits: frozenset[str]
    token_id: int
    token_kind: TokenKind
    scope: TokenScope
    denied: list[str] = field(default_factory=list)
    # The token cache's entry this viewer was built from (None: looked up afresh): the
    # viewers of one entry have the same user, bits and scope, so what is built from
    # those alone may be reused between them (compiled statements).
    lookup: object | None = field(default=None, compare=False, repr=False)

    @property
    def is_superadmin(self) -> bool:
        return self.user.is_superadmin

    def has(self, bit: str) -> bool:
        return self.user.is_superadmin or bit in self.bits

    def effective_bits(self) -> list[str]:
        if self.user.is_superadmin:
            return list(PERMISSION_BITS)
        return [bit for bit in PERMISSION_BITS if bit in self.bits]


class InvalidToken(Exception):
    """The bearer token is unknown, revoked or expired."""


async def bits_for_users(user_ids: Iterable[int]) -> dict[int, frozenset[str]]:
    """Each user's union of the bits of every profile they hold, in one query."""
    columns = [bit.lower() for bit in PERMISSION_BITS]
    rows = await Assignment.filter(user_id__in=set(user_ids)).values(
        "user_id", *(f"profile__{c}" for c in columns)
    )
    bits: dict[int, set[str]] = defaultdict(set)
    for row in rows:
        for bit, column in zip(PERMISSION_BITS, columns, strict=True):
            if row[f"profile__{column}"]:
                bits[row["user_id"]].add(bit)
    return {uid: frozenset(found) for uid, found in bits.items()}


async def user_bits(user_id: int) -> frozenset[str]:
    return (await bits_for_users([user_id])).get(user_id, frozenset())


@dataclass(frozen=True)
class _Entry:
    """What a token lookup found, kept to build a fresh Viewer per request."""

    user: User
    bits: frozenset[str]
    token_id: int
    token_kind: TokenKind
    scope: TokenScope
    expires_at: datetime | None
    stored: float


class TokenCache:
    """Recent token lookups of this process, by token hash: at most `size` entries,
    each trusted for the TTL the caller gives. `forget()` drops them all and bumps the
    generation, so a lookup that was already under way when a revoking write happened
    is not stored (it may have read the row before the write)."""

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self.generation = 0
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    def get(self, key: str, ttl: float) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if time.monotonic() - entry.stored >= ttl:
            del self._entries[key]
            return None
        return entry

    def put(self, key: str, entry: _Entry, generation: int) -> None:
        if generation != self.generation:
            return
        self._entries[key] = entry
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def forget(self) -> None:
        self.generation += 1
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


token_cache = TokenCache()


def forget_tokens() -> None:
    """Stop trusting cached token lookups: a token was revoked, or a user's row, bits
    or company changed. Called before the write and again after its transaction commits
    (a request in between could have cached the old state)."""
    token_cache.forget()
    on_commit(token_cache.forget)


def _viewer(entry: _Entry) -> Viewer:
    # Each request gets its own copies: a resolver may set attributes on the viewer's
    # user (passwordChange does), and `denied` is per request.
    user = copy.copy(entry.user)
    company = getattr(user, "_company", None)  # select_related's instance
    if company is not None:
        setattr(user, "_company", copy.copy(company))  # noqa: B010
    return Viewer(
        user=user,
        bits=entry.bits,
        token_id=entry.token_id,
        token_kind=entry.token_kind,
        scope=entry.scope,
        lookup=entry,
    )


async def authenticate(raw_token: str, cache_seconds: float = 0.0) -> Viewer:
    """The viewer behind a bearer token, or InvalidToken. With `cache_seconds`, a lookup
    this process made less than that long ago is reused without a statement."""
    if not raw_token.startswith(TOKEN_PREFIX) or len(raw_token) > 200:
        raise InvalidToken
    key = hash_token(raw_token)
    if cache_seconds > 0:
        cached = token_cache.get(key, cache_seconds)
        if cached is not None:
            if cached.expires_at is not None and cached.expires_at <= now():
                raise InvalidToken
            return _viewer(cached)
    generation = token_cache.generation
    token = (
        await AuthToken.filter(token_hash=key, revoked_at__isnull=True)
        .select_related("user", "user__company")
        .first()
    )
    moment = now()
    if token is None or (token.expires_at is not None and token.expires_at <= moment):
        raise InvalidToken
    user = token.user
    if not user.enabled:
        raise InvalidToken
    if token.last_used_at is None or moment - token.last_used_at > _TOUCH_EVERY:
        await AuthToken.filter(id=token.id).update(last_used_at=moment)
    entry = _Entry(
        user=user,
        bits=await user_bits(user.id),
        token_id=token.id,
        token_kind=token.kind,
        scope=token.scope,
        expires_at=token.expires_at,
        stored=time.monotonic(),
    )
    if cache_seconds > 0:
        token_cache.put(key, entry, generation)
        return _viewer(entry)
    return Viewer(
        user=user,
        bits=entry.bits,
        token_id=token.id,
        token_kind=token.kind,
        scope=token.scope,
    )


@dataclass
class LoginOutcome:
    token: str | None = None
    expires_at: datetime | None = None
    user: User | None = None
    error_code: ErrorCode | None = None


async def _throttled(key: str, address: str, since: datetime, settings: Settings) -> bool:
    """Too many failed password checks inside the window, for the username or the
    address (the address gets a larger allowance: several users may share it)."""
    failures = LoginAttempt.filter(succeeded=False, created_at__gte=since)
    return (
        await failures.filter(username=key).count() >= settings.login_max_failures
        or await failures.filter(address=address).count()
        >= settings.login_max_failures * settings.login_address_factor
    )


async def login(username: str, password: str, address: str, settings: Settings) -> LoginOutcome:
    """Check credentials under the rate limit; on success create a session token.

    Only failed password checks count (a row written after the check), so concurrent
    correct logins never throttle each other. A burst of concurrent guesses can all get
    past the first count; the count is taken again after a correct password, so a guess
    that happens to be right is still refused once its siblings have failed."""
    key = username.strip().lower()[:60]
    address = address[:64]
    since = now() - timedelta(seconds=settings.login_window_seconds)
    if await _throttled(key, address, since, settings):
        return LoginOutcome(error_code=ErrorCode.RATE_LIMITED)

    user = await User.filter(username=username.strip()).first()
    password_ok = await verify_password_async(user.password_hash if user else None, password)
    if user is None or not password_ok or not user.enabled or not user.login_enabled:
        await LoginAttempt.create(username=key, address=address, succeeded=False)
        return LoginOutcome(error_code=ErrorCode.INVALID_CREDENTIALS)
    if await _throttled(key, address, since, settings):
        return LoginOutcome(error_code=ErrorCode.RATE_LIMITED)

    await LoginAttempt.create(username=key, address=address, succeeded=True)
    # Old rows only matter inside the window; prune them as we go.
    await LoginAttempt.filter(created_at__lt=since - timedelta(days=1)).delete()
    secret = new_secret()
    expires = now() + timedelta(hours=settings.session_ttl_hours)
    await AuthToken.create(
        user=user,
        kind=TokenKind.SESSION,
        name="login",
        token_hash=hash_token(secret),
        prefix=secret[:10],
        expires_at=expires,
    )
    return LoginOutcome(token=secret, expires_at=expires, user=user)


async def create_api_token(
    user: User, name: str, scope: TokenScope, expires_at: datetime | None
) -> tuple[AuthToken, str]:
    secret = new_secret()
    token = await AuthToken.create(
        user=user,
        kind=TokenKind.API,
        name=name,
        scope=scope,
        token_hash=hash_token(secret),
        prefix=secret[:10],
        expires_at=expires_at,
    )
    return token, secret


async def revoke_token(token_id: int) -> int:
    forget_tokens()
    return await AuthToken.filter(id=token_id, revoked_at__isnull=True).update(revoked_at=now())


def active_tokens_q() -> Q:
    return Q(revoked_at__isnull=True) & (Q(expires_at__isnull=True) | Q(expires_at__gt=now()))
