"""Post one event to one endpoint: resolve and check its host, connect to the checked address (naming the
host in the Host header and TLS's SNI, so the certificate is still checked against the name), follow no
redirect, stop after a time limit, read no more of the answer than an excerpt."""

from __future__ import annotations

import asyncio
import ssl
import time
from dataclasses import dataclass

import httpx

from app.webhooks import addresses
from app.webhooks.addresses import Policy, RefusedURL

USER_AGENT = "Skiplock-Webhooks/1"
EXCERPT_BYTES = 1024  # the most of a receiver's answer that is read and kept


@dataclass(frozen=True)
class Attempt:
    """What one attempt got: an HTTP status (and the start of the answer), or an error before any."""

    duration_ms: float
    status_code: int | None = None
    excerpt: str | None = None
    error: str | None = None
    address: str | None = None

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def reason(self) -> str:
        """One line saying why this attempt did not deliver."""
        if self.error:
            return self.error
        if self.status_code is not None and 300 <= self.status_code < 400:
            return f"the receiver answered {self.status_code} (a redirect, not followed: register the final URL)"
        return f"the receiver answered {self.status_code}" + (f": {self.excerpt[:200]}" if self.excerpt else "")


def _text(raw: bytes) -> str:
    """The answer's start as text PostgreSQL can store (no NUL)."""
    return raw[:EXCERPT_BYTES].decode("utf-8", "replace").replace("\x00", "")


def _address_url(target: addresses.Target, addr: addresses.IPAddress) -> str:
    host = f"[{addr}]" if addr.version == 6 else str(addr)
    url = target.url
    return url._replace(netloc=f"{host}:{target.port}", fragment="").geturl()


def _host_header(target: addresses.Target) -> str:
    default = 443 if target.url.scheme.lower() == "https" else 80
    host = f"[{target.host}]" if ":" in target.host else target.host
    return host if target.port == default else f"{host}:{target.port}"


async def _exchange(
    target: addresses.Target,
    addr: addresses.IPAddress,
    body: bytes,
    headers: dict[str, str],
    timeout: float,
    verify: ssl.SSLContext | bool,
) -> tuple[int, str]:
    # Connect to the checked address; TLS names the host (SNI) and checks the certificate against it.
    extensions = {"sni_hostname": target.host} if target.url.scheme.lower() == "https" else {}
    async with httpx.AsyncClient(
        timeout=timeout, follow_redirects=False, trust_env=False, headers={"User-Agent": USER_AGENT}, verify=verify
    ) as client:
        request = client.build_request(
            "POST",
            _address_url(target, addr),
            content=body,
            headers={**headers, "Host": _host_header(target), "Content-Type": "application/json"},
            extensions=extensions,
        )
        response = await client.send(request, stream=True)
        try:
            start = b""
            async for chunk in response.aiter_raw():
                start += chunk
                if len(start) >= EXCERPT_BYTES:
                    break
        finally:
            await response.aclose()
        return response.status_code, _text(start)


def _describe(exc: Exception, addr: addresses.IPAddress | None, timeout: float) -> str:
    where = f" ({addr})" if addr else ""
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        return f"no answer within {timeout:g} s{where}"
    if isinstance(exc, httpx.ConnectError):
        return f"could not connect{where}: {exc or type(exc).__name__}"
    if isinstance(exc, httpx.HTTPError):
        return f"{type(exc).__name__}{where}: {exc}"
    return f"{type(exc).__name__}{where}: {exc}"


async def post(
    url: str,
    body: bytes,
    headers: dict[str, str],
    policy: Policy,
    timeout: float,
    *,
    verify: ssl.SSLContext | bool = True,
) -> Attempt:
    """One attempt to deliver `body` to `url`; never raises for what the receiver or the network did.
    `verify`: the TLS context that checks the receiver's certificate (the system's trusted roots by default)."""
    started = time.monotonic()
    addr: addresses.IPAddress | None = None

    def elapsed() -> float:
        return round((time.monotonic() - started) * 1000, 1)

    try:
        async with asyncio.timeout(timeout):
            target = addresses.check_url(url, policy)
            found = await addresses.resolve(target, policy)
            for addr in found:  # every one checked; the next only when this one cannot be reached
                try:
                    status, excerpt = await _exchange(target, addr, body, headers, timeout, verify)
                    break
                except httpx.ConnectError:
                    if addr == found[-1]:
                        raise
    except RefusedURL as exc:
        return Attempt(elapsed(), error=f"refused: {exc}", address=str(addr) if addr else None)
    except Exception as exc:  # the network's failures are the attempt's outcome, recorded, not raised
        return Attempt(elapsed(), error=_describe(exc, addr, timeout), address=str(addr) if addr else None)
    return Attempt(elapsed(), status_code=status, excerpt=excerpt or None, address=str(addr))
