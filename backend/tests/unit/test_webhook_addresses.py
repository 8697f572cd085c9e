"""Where a webhook may point (SSRF), and its signatures: pure functions, no database."""

from __future__ import annotations

import ipaddress
import time

import pytest
from app.webhooks import addresses, signing
from app.webhooks.addresses import Policy, RefusedURL

STRICT = Policy()
OPEN = Policy(allow_private=True, allow_http=True)


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("127.0.0.1", "loopback"),
        ("127.8.8.8", "loopback"),
        ("169.254.169.254", "link-local"),  # the cloud metadata service
        ("0.0.0.0", "unspecified"),
        ("100.64.0.1", "not globally routable"),  # carrier-grade NAT
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "broadcast"),
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fe80::1", "link-local"),
        ("fc00::1", "private"),  # unique-local
        ("fd12:3456::1", "private"),
        ("ff02::1", "multicast"),
        ("::ffff:127.0.0.1", "IPv4-mapped"),
        ("::ffff:8.8.8.8", "IPv4-mapped"),
        ("2002:7f00:1::", "carries"),  # 6to4 of 127.0.0.1
        ("64:ff9b::a00:1", "carries"),  # NAT64 of 10.0.0.1
    ],
)
def test_non_public_addresses_are_refused_unless_allowed(address, kind):
    addr = ipaddress.ip_address(address)
    with pytest.raises(RefusedURL) as refused:
        addresses.check_address(addr, STRICT)
    message = str(refused.value)
    if kind != "broadcast":
        assert kind in message
    assert "WEBHOOKS_ALLOW_PRIVATE" in message
    addresses.check_address(addr, Policy(allow_private=True))


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "2a00:1450:4001:80e::200e"])
def test_public_addresses_pass(address):
    addresses.check_address(ipaddress.ip_address(address), STRICT)


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://example.com/hook", "https://"),
        ("ftp://example.com/hook", "https://"),
        ("example.com/hook", "https://"),
        ("https://user:pw@example.com/hook", "credentials"),
        ("https:///hook", "no host"),
        ("https://example.com:99999/hook", "port"),
        ("https://example.com/ho ok", "whitespace"),
        ("https://example.com/\x00", "control"),
        ("https://example.com/" + "a" * 2001, "longer"),
    ],
)
def test_malformed_or_plain_http_urls_are_refused(url, says):
    with pytest.raises(RefusedURL, match=says):
        addresses.check_url(url, STRICT)


def test_plain_http_only_with_its_setting():
    target = addresses.check_url("http://127.0.0.1:8080/x", OPEN)
    assert (target.host, target.port) == ("127.0.0.1", 8080)
    assert addresses.check_url("https://[2606:4700::1]/x", STRICT).host == "2606:4700::1"


async def test_a_name_is_refused_when_it_resolves_to_a_private_address():
    target = addresses.check_url("https://localhost/hook", STRICT)
    with pytest.raises(RefusedURL, match="loopback"):
        await addresses.resolve(target, STRICT)
    assert all(a.is_loopback for a in await addresses.resolve(target, OPEN))


@pytest.mark.parametrize("literal", ["https://127.0.0.1/x", "https://[::1]/x", "https://[::ffff:10.0.0.1]/x"])
async def test_address_literals_are_checked_without_resolving(literal):
    with pytest.raises(RefusedURL):
        await addresses.resolve(addresses.check_url(literal, STRICT), STRICT)


def test_a_signature_verifies_with_its_secret_and_body_only():
    secret, body = signing.new_secret(), b'{"id": "e1", "type": "job.completed"}'
    header = signing.sign(secret, body)
    assert header.startswith("t=")
    assert ",v1=" in header
    assert signing.verify(secret, body, header)
    assert not signing.verify(signing.new_secret(), body, header)  # another secret
    assert not signing.verify(secret, body + b" ", header)  # a changed body
    assert not signing.verify(secret, body, header.replace("v1=", "v1=0"))
    assert not signing.verify(secret, body, "v1=abc")  # no timestamp
    assert not signing.verify(secret, body, "")


def test_an_old_signature_is_refused_as_a_replay():
    secret, body = signing.new_secret(), b"{}"
    old = signing.sign(secret, body, timestamp=int(time.time()) - 3600)
    assert not signing.verify(secret, body, old)
    assert signing.verify(secret, body, old, tolerance=7200)


def test_the_signature_is_hmac_sha256_over_timestamp_dot_body():
    import hashlib
    import hmac

    header = signing.sign("whsec_k", b"{}", timestamp=1700000000)
    expected = hmac.new(b"whsec_k", b"1700000000.{}", hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={expected}"


def test_the_readmes_verify_function_checks_real_signatures():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    start = readme.index("  import hashlib, hmac, time")
    block = readme[start : readme.index("```", start)]
    namespace: dict = {}
    exec("\n".join(line[2:] for line in block.splitlines()), namespace)
    secret, body = signing.new_secret(), b'{"id": "e"}'
    assert namespace["verify"](secret, body, signing.sign(secret, body))
    assert not namespace["verify"](secret, body + b"x", signing.sign(secret, body))
    assert not namespace["verify"](secret, body, signing.sign(secret, body, timestamp=int(time.time()) - 3600))
