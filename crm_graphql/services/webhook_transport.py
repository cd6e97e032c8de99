"""Outgoing webhook requests behind the SSRF guard.

A webhook URL is a destination a user chooses, sent from inside our network, so:
the host is resolved once, every address it resolves to must be public (not private,
loopback, link-local, multicast, reserved or unspecified; an IPv4-mapped IPv6 address
is judged as the IPv4 address it carries), and the request connects to that one
checked address (the name still goes in `Host` and in TLS's SNI and certificate
check), so a second lookup cannot swap in an internal address (DNS rebinding).
Redirects are not followed, the connection and the whole exchange have a time limit,
and at most `MAX_RESPONSE_BYTES` of the answer are read. `CRM_WEBHOOK_ALLOW_PRIVATE=1`
lifts the address rule (tests, a receiver on the same network on purpose)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from dataclasses import dataclass

import httpx

MAX_RESPONSE_BYTES = 64 * 1024
MAX_URL_LENGTH = 2000

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class RefusedDestination(Exception):
    """The URL may not be called: its message says why (shown to the webhook's owner)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def address_refusal(address: IPAddress) -> str | None:
    """Why a request may not go to `address`, or None when it is a public address."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    for flag, what in (
        (address.is_loopback, "a loopback"),
        (address.is_link_local, "a link-local"),
        (address.is_multicast, "a multicast"),
        (address.is_unspecified, "an unspecified"),
        (address.is_reserved, "a reserved"),
        (address.is_private, "a private"),
    ):
        if flag:
            return f"{address} is {what} address."
    # Shared (100.64/10), documentation and other special ranges are not global either.
    if not address.is_global:
        return f"{address} is not a public address."
    return None


def check_url(url: str) -> httpx.URL:
    """The parsed URL when its form is acceptable (http or https, a host, no user
    name or password); RefusedDestination otherwise."""
    if len(url) > MAX_URL_LENGTH:
        raise RefusedDestination(f"At most {MAX_URL_LENGTH} characters.")
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        raise RefusedDestination("Not a valid URL.") from None
    if parsed.scheme not in {"http", "https"}:
        raise RefusedDestination("Only http:// and https:// URLs are accepted.")
    if not parsed.host:
        raise RefusedDestination("The URL has no host.")
    if parsed.userinfo:
        raise RefusedDestination("The URL may not hold a user name or password.")
    return parsed


def _port(parsed: httpx.URL) -> int:
    return parsed.port or (443 if parsed.scheme == "https" else 80)


async def resolve(parsed: httpx.URL, allow_private: bool) -> IPAddress:
    """The one address to connect to: the host's first address, when every address
    it resolves to is allowed."""
    host = parsed.host
    try:
        addresses: list[IPAddress] = [ipaddress.ip_address(host)]
    except ValueError:
        addresses = await _lookup(host, _port(parsed))
    if not allow_private:
        for address in addresses:
            reason = address_refusal(address)
            if reason is not None:
                raise RefusedDestination(f"The host {host} is not allowed: {reason}")
    return addresses[0]


async def _lookup(host: str, port: int) -> list[IPAddress]:
    try:
        infos = await asyncio.wait_for(
            asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM),
            timeout=10,
        )
    except (OSError, TimeoutError):
        raise RefusedDestination(f"The host {host} could not be resolved.") from None
    addresses: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise RefusedDestination(f"The host {host} could not be resolved.")
    return addresses


async def check_destination(url: str, allow_private: bool) -> None:
    """The checks of `post` without the request (webhookCreate and webhookUpdate)."""
    await resolve(check_url(url), allow_private)


@dataclass
class Outcome:
    """What one attempt got: a status code (None when no answer came), the time it
    took, and an error message when it failed."""

    status: int | None
    duration_ms: int
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


async def post(
    url: str, body: bytes, headers: dict[str, str], *, seconds: float, allow_private: bool
) -> Outcome:
    """POST `body` to `url` through the guard; never raises for the receiver's faults."""
    started = time.monotonic()

    def outcome(status: int | None, error: str = "") -> Outcome:
        return Outcome(status, int((time.monotonic() - started) * 1000), error[:1000])

    try:
        parsed = check_url(url)
        address = await resolve(parsed, allow_private)
    except RefusedDestination as exc:
        return outcome(None, exc.message)
    target = parsed.copy_with(host=str(address))
    request_headers = {**headers, "Host": parsed.netloc.decode("ascii")}
    extensions = {"sni_hostname": parsed.host} if parsed.scheme == "https" else {}
    try:
        async with (
            asyncio.timeout(seconds * 2),
            httpx.AsyncClient(
                follow_redirects=False, trust_env=False, timeout=httpx.Timeout(seconds)
            ) as client,
            client.stream(
                "POST", target, content=body, headers=request_headers, extensions=extensions
            ) as response,
        ):
            read = 0
            async for chunk in response.aiter_raw():
                read += len(chunk)
                if read > MAX_RESPONSE_BYTES:
                    break  # the status is what counts: stop reading a large answer
            if response.is_redirect:
                return outcome(response.status_code, "Redirects are not followed.")
            if not response.is_success:
                return outcome(response.status_code, f"HTTP {response.status_code}")
            return outcome(response.status_code)
    except TimeoutError:
        return outcome(None, f"No answer within {seconds * 2:g} seconds.")
    except httpx.TimeoutException:
        return outcome(None, f"Timed out ({seconds:g} s).")
    except httpx.HTTPError as exc:
        return outcome(None, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
    except OSError as exc:
        return outcome(None, f"Connection failed: {exc}")
