"""Where a webhook may point (SSRF): an https URL whose host resolves only to public addresses.

Private, loopback, link-local, unique-local, multicast, unspecified and other non-global addresses (and IPv6
forms that carry an IPv4 address: IPv4-mapped, 6to4, Teredo, NAT64) are refused unless `allow_private`;
plain http only with `allow_http`. A URL is checked when it is registered and again at each delivery, after
its name is resolved: the sender connects to the address it checked (a name that resolves elsewhere the
second time, DNS rebinding, gains nothing).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
MAX_URL_LENGTH = 2000
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class RefusedURL(ValueError):
    """The URL (or the address its host resolves to) may not be called; the message says why and what to do."""


@dataclass(frozen=True)
class Policy:
    allow_private: bool = False  # WEBHOOKS_ALLOW_PRIVATE
    allow_http: bool = False  # WEBHOOKS_ALLOW_HTTP


@dataclass(frozen=True)
class Target:
    """A checked URL, split: what the sender needs to connect to one address and still name the host."""

    url: SplitResult
    host: str  # the host name (or address literal) as written, without brackets
    port: int


def _kind(addr: IPAddress) -> str | None:
    """Why `addr` is not a public address a server should call, or None when it is one."""
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.ipv4_mapped is not None:
            return "an IPv4-mapped IPv6 address"
        embedded = addr.sixtofour or (addr.teredo[1] if addr.teredo else None)
        if embedded is None and addr in _NAT64:
            embedded = ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
        if embedded is not None and (inner := _kind(embedded)):
            return f"an IPv6 address that carries {inner}"
    checks = (
        ("unspecified", addr.is_unspecified),
        ("loopback", addr.is_loopback),
        ("link-local", addr.is_link_local),
        ("multicast", addr.is_multicast),
        ("reserved", addr.is_reserved),
        ("private", addr.is_private),
        ("not globally routable", not addr.is_global),
    )
    kind = next((name for name, hit in checks if hit), None)
    return f"a {kind} address" if kind else None


def check_address(addr: IPAddress, policy: Policy) -> None:
    """Raises RefusedURL when `addr` is not public (unless the policy allows private addresses)."""
    if policy.allow_private:
        return
    kind = _kind(addr)
    if kind:
        raise RefusedURL(
            f"{addr} is {kind}; webhooks call public addresses only"
            " (WEBHOOKS_ALLOW_PRIVATE=true allows others, e.g. a receiver on this network)"
        )


def check_url(url: str, policy: Policy) -> Target:
    """The URL split and checked for its form (scheme, host, no credentials); its addresses are checked by
    `resolve`. Raises RefusedURL."""
    if len(url) > MAX_URL_LENGTH:
        raise RefusedURL(f"the URL is longer than {MAX_URL_LENGTH} characters")
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        raise RefusedURL("the URL holds whitespace or control characters")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme != "https" and not (scheme == "http" and policy.allow_http):
        raise RefusedURL(
            "the URL must start with https:// (plain http only with WEBHOOKS_ALLOW_HTTP=true, for local testing)"
        )
    if parts.username is not None or parts.password is not None:
        raise RefusedURL("the URL must not hold credentials (user:password@); verify the signature instead")
    if not parts.hostname:
        raise RefusedURL("the URL names no host")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        raise RefusedURL("the URL's port is not a number from 1 to 65535") from None
    if port == 0:
        raise RefusedURL("the URL's port is not a number from 1 to 65535")
    return Target(parts, parts.hostname, port)


def literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


async def resolve(target: Target, policy: Policy) -> list[IPAddress]:
    """The addresses of the target's host, every one of them checked (one refused address refuses the name:
    which one a client would pick is not ours to guess). Raises RefusedURL."""
    addr = literal(target.host)
    if addr is not None:
        found = [addr]
    else:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                target.host, target.port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
            )
        except (OSError, UnicodeError) as exc:
            raise RefusedURL(f"the host {target.host!r} does not resolve ({exc})") from None
        found = list(dict.fromkeys(ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos))
        if not found:
            raise RefusedURL(f"the host {target.host!r} does not resolve")
    for each in found:
        check_address(each, policy)
    return found
