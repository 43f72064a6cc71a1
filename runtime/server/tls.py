"""TLS for both of the server's ports: ``https://`` and ``wss://`` from a certificate and its key.

Browsers hold deployments to TLS (Opencom's dashboard refuses ``http://`` backends and its CSP
allows only ``https:``/``wss:``), so the server can terminate TLS itself; behind a proxy that does
it instead, see ``runtime.server.forwarded``.
"""

from __future__ import annotations

import ssl
from pathlib import Path


class TlsConfigError(ValueError):
    """The certificate or key cannot be used; the message says which file and why."""


def server_tls_context(cert_file: Path | str, key_file: Path | str) -> ssl.SSLContext:
    """A server-side context (TLS 1.2 or newer) serving the PEM certificate chain ``cert_file`` with
    the private key ``key_file``."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    for label, path in (("certificate", cert_file), ("key", key_file)):
        if not Path(path).is_file():
            raise TlsConfigError(f"the TLS {label} file {path} does not exist")
    try:
        context.load_cert_chain(cert_file, key_file)
    except (ssl.SSLError, OSError) as error:
        reason = getattr(error, "reason", None) or str(error)
        raise TlsConfigError(f"cannot use the TLS certificate {cert_file} with the key {key_file}: {reason}") from None
    return context
