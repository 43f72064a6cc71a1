"""TLS on both ports (``--tls-cert``/``--tls-key``), with real TLS clients trusting a certificate made here.

Opencom's dashboard refuses ``http://`` backends and its CSP allows only ``https:``/``wss:``
(reference/opencom/frontend-calls.md), so the server must speak TLS itself: the Convex API and
sync websocket on the main port, the HTTP actions on the site port.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import ssl
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.cli_harness import CLI_APP, Background, opencom
from tests.driver_process import Driver
from tests.npm_support import NPM_DIR, node_with_convex
from tests.server_fixtures import COMPAT_APP, RunningServer, start_server

TIMEOUT = aiohttp.ClientTimeout(total=20)


def write_self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, signed by its own key: ``(cert.pem, key.pem)``."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "opencom test")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_file, key_file


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    return write_self_signed(tmp_path)


@pytest.fixture
def server(tmp_path: Path, certificate: tuple[Path, Path]) -> Iterator[RunningServer]:
    cert_file, key_file = certificate
    running = start_server(
        COMPAT_APP, tmp_path / "data", args=("--tls-cert", str(cert_file), "--tls-key", str(key_file))
    )
    yield running
    running.stop()


@pytest.fixture
async def trusting(certificate: tuple[Path, Path]) -> AsyncIterator[aiohttp.ClientSession]:
    """An aiohttp session that trusts the test certificate (and nothing else)."""
    context = ssl.create_default_context(cafile=str(certificate[0]))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context), timeout=TIMEOUT) as session:
        yield session


async def test_both_ports_speak_https(server: RunningServer, trusting: aiohttp.ClientSession) -> None:
    assert server.url.startswith("https://127.0.0.1:") and server.site_url.startswith("https://127.0.0.1:")
    body = {"path": "messages:send", "args": {"author": "tls", "body": "sealed"}, "format": "json"}
    async with trusting.post(f"{server.url}/api/mutation", json=body) as response:
        assert (await response.json())["status"] == "success"
    async with trusting.post(f"{server.url}/api/query", json={"path": "messages:list", "args": {}}) as response:
        assert [message["body"] for message in (await response.json())["value"]] == ["sealed"]
    async with trusting.get(f"{server.site_url}/nowhere") as response:
        assert (response.status, await response.text()) == (404, "No HttpAction routed for /nowhere")


async def test_the_sync_protocol_runs_over_wss(server: RunningServer, trusting: aiohttp.ClientSession) -> None:
    async with trusting.ws_connect(server.url.replace("https://", "wss://") + "/api/sync") as socket:
        await socket.send_json(
            {
                "type": "Connect",
                "sessionId": str(uuid.uuid4()),
                "connectionCount": 0,
                "lastCloseReason": "InitialConnect",
                "clientTs": 0,
            }
        )
        add = {"type": "Add", "queryId": 0, "udfPath": "messages:list", "args": [{}]}
        await socket.send_json({"type": "ModifyQuerySet", "baseVersion": 0, "newVersion": 1, "modifications": [add]})
        while True:
            frame = json.loads((await socket.receive(timeout=10)).data)
            if frame["type"] == "Transition":
                break
    assert frame["modifications"][0] == {
        "type": "QueryUpdated",
        "queryId": 0,
        "value": [],
        "logLines": [],
        "journal": None,
    }


async def test_clients_that_do_not_trust_the_certificate_or_speak_plain_http_are_refused(server: RunningServer) -> None:
    async with aiohttp.ClientSession(timeout=TIMEOUT) as untrusting:
        for url in (server.url, server.site_url):
            with pytest.raises(aiohttp.ClientConnectorCertificateError):
                await untrusting.get(f"{url}/api/query")
            with pytest.raises(aiohttp.ClientError):
                await untrusting.get(url.replace("https://", "http://") + "/api/query")


async def test_the_official_npm_client_over_tls(server: RunningServer, certificate: tuple[Path, Path]) -> None:
    """ConvexClient (wss) and ConvexHttpClient (https), trusting the certificate as Node does: NODE_EXTRA_CA_CERTS."""
    node = node_with_convex()
    driver = await Driver.start(
        [node, "driver.mjs", server.url], cwd=str(NPM_DIR), env={"NODE_EXTRA_CA_CERTS": str(certificate[0])}
    )
    try:
        await driver.call("subscribe", sub="list", path="messages:list", args={})
        assert await driver.call("next", sub="list") == []
        await driver.call("mutation", path="messages:send", args={"author": "node", "body": "over wss"})
        messages = await driver.next_until("list", lambda value: len(value) == 1)
        assert messages[0]["body"] == "over wss"
        listed = await driver.call("http_query", path="messages:list", args={})
        assert [message["body"] for message in listed] == ["over wss"]
    finally:
        await driver.close()


def test_serve_with_a_certificate_announces_https(tmp_path: Path, certificate: tuple[Path, Path]) -> None:
    cert_file, key_file = certificate
    server = Background(
        "serve",
        "--app",
        CLI_APP,
        "--data",
        tmp_path / "data",
        "--port",
        "0",
        "--tls-cert",
        cert_file,
        "--tls-key",
        key_file,
    )
    try:
        banner = server.wait_for(
            r"serving \S+ at (https://127\.0\.0\.1:\d+)\n  site:      (https://127\.0\.0\.1:\d+) \(HTTP actions\)"
        )
        announced = json.loads((tmp_path / "data" / "server.json").read_text())
        assert (announced["url"], announced["siteUrl"]) == banner.groups()
    finally:
        assert server.interrupt() == 0


def test_unusable_certificates_are_refused_before_serving(tmp_path: Path, certificate: tuple[Path, Path]) -> None:
    cert_file, key_file = certificate
    alone = opencom("serve", "--app", CLI_APP, "--data", tmp_path / "data", "--tls-cert", cert_file)
    assert alone.returncode == 2 and "--tls-cert and --tls-key go together" in alone.stderr
    swapped = opencom(
        "serve", "--app", CLI_APP, "--data", tmp_path / "data", "--tls-cert", key_file, "--tls-key", key_file
    )
    assert swapped.returncode == 1
    assert f"cannot use the TLS certificate {key_file} with the key {key_file}" in swapped.stderr
    missing = opencom(
        "serve", "--app", CLI_APP, "--data", tmp_path / "data", "--tls-cert", tmp_path / "no.pem", "--tls-key", key_file
    )
    assert (
        missing.returncode == 1 and f"the TLS certificate file {tmp_path / 'no.pem'} does not exist" in missing.stderr
    )
