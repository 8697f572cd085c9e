"""One delivery attempt against a local receiver: what is sent, and what is recorded of the answer."""

from __future__ import annotations

import shutil
import ssl
import subprocess

import pytest
from app.webhooks import sender, signing
from app.webhooks.addresses import Policy

from tests.support.receiver import Receiver, free_port

LOCAL = Policy(allow_private=True, allow_http=True)


@pytest.fixture
def receiver():
    r = Receiver(free_port())
    r.start()
    yield r
    r.stop()


async def test_an_attempt_posts_the_body_with_its_headers_and_keeps_the_answer(receiver):
    body = b'{"id": "e1"}'
    attempt = await sender.post(receiver.url, body, {signing.HEADER: signing.sign("s", body)}, LOCAL, 5)
    assert attempt.delivered
    assert attempt.status_code == 200
    assert attempt.excerpt == '{"ok": true}'
    assert attempt.address == "127.0.0.1"
    [got] = receiver.requests
    assert got.body == body
    assert got.headers["Content-Type"] == "application/json"
    assert got.headers["Host"] == f"127.0.0.1:{receiver.port}"
    assert signing.verify("s", got.body, got.headers[signing.HEADER])


async def test_a_redirect_is_not_followed(receiver):
    receiver.status, receiver.location = 302, "http://169.254.169.254/latest/meta-data"
    attempt = await sender.post(receiver.url, b"{}", {}, LOCAL, 5)
    assert not attempt.delivered
    assert attempt.status_code == 302
    assert "not followed" in attempt.reason
    assert len(receiver.requests) == 1


async def test_only_the_start_of_a_long_answer_is_read(receiver):
    receiver.status, receiver.answer = 500, b"x" * 1_000_000
    attempt = await sender.post(receiver.url, b"{}", {}, LOCAL, 5)
    assert attempt.status_code == 500
    assert len(attempt.excerpt or "") <= sender.EXCERPT_BYTES
    assert attempt.reason.startswith("the receiver answered 500")


async def test_a_refused_connection_is_an_error_not_an_exception():
    attempt = await sender.post(f"http://127.0.0.1:{free_port()}/hook", b"{}", {}, LOCAL, 5)
    assert not attempt.delivered
    assert attempt.status_code is None
    assert attempt.error
    assert "could not connect" in attempt.error


@pytest.mark.parametrize("url", ["https://127.0.0.1/hook", "https://localhost/hook", "https://[::1]/hook"])
async def test_a_private_address_is_refused_at_delivery_too(url, receiver):
    """The check is made again at each attempt, after resolving: a URL registered under another setting, or a
    name that now resolves to a private address (DNS rebinding), is not called."""
    attempt = await sender.post(url, b"{}", {}, Policy(), 5)
    assert attempt.error
    assert attempt.error.startswith("refused:")
    assert "WEBHOOKS_ALLOW_PRIVATE" in attempt.error
    assert receiver.requests == []


async def test_plain_http_is_refused_at_delivery_without_its_setting(receiver):
    attempt = await sender.post(receiver.url, b"{}", {}, Policy(allow_private=True), 5)
    assert attempt.error
    assert "https://" in attempt.error
    assert receiver.requests == []


def _certificate(tmp_path, name: str) -> tuple[str, str]:
    cert, key = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            f"/CN={name}",
            "-addext",
            f"subjectAltName=DNS:{name}",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return str(cert), str(key)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command to make a certificate")
@pytest.mark.parametrize(("certified", "delivered"), [("localhost", True), ("elsewhere.example", False)])
async def test_https_connects_to_the_checked_address_and_checks_the_certificate_against_the_name(
    tmp_path, certified, delivered
):
    """https://localhost/… is resolved and checked, then called at 127.0.0.1 with SNI and Host `localhost`: the
    certificate must be valid for the name in the URL, not for the address that was dialled."""
    cert, key = _certificate(tmp_path, certified)
    receiver = Receiver(free_port())
    receiver.start(tls=(cert, key))
    try:
        trust = ssl.create_default_context(cafile=cert)
        url = f"https://localhost:{receiver.port}/hook"
        attempt = await sender.post(url, b"{}", {}, Policy(allow_private=True), 5, verify=trust)
    finally:
        receiver.stop()
    assert attempt.delivered is delivered
    assert attempt.address in ("127.0.0.1", "::1")
    if delivered:
        assert receiver.requests[0].headers["Host"] == f"localhost:{receiver.port}"
    else:
        assert "certificate" in (attempt.error or "").lower()
        assert receiver.requests == []
