"""Sending one webhook request without letting anyone aim the server at its own network.

The address must be ``https`` and every address its name resolves to must be public (no
loopback, private, link-local, shared or reserved range), checked when it is registered and
again at each delivery; the connection then goes to the very address that was checked (so a
name that resolves elsewhere a moment later, DNS rebinding, changes nothing), with the name
kept for TLS verification. Short timeouts; redirects are not followed (a 3xx is a failure);
at most a kilobyte of the answer is read, and thrown away."""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from app.kit.i18n import N_

MAX_URL_LENGTH = 500
READ_AT_MOST = 1024


class WebhookUrlRefused(Exception):
    """The address may not be used; the message says why (shown to the organiser)."""


@dataclass(frozen=True, slots=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str  # with its query
    addresses: tuple[str, ...]


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def resolve(url: str, *, allow_private: bool) -> Target:
    """Check an endpoint's address and resolve its host; raises WebhookUrlRefused."""
    if len(url) > MAX_URL_LENGTH:
        raise WebhookUrlRefused(N_("The address is longer than 500 characters."))
    if any(ord(ch) < 33 or ord(ch) == 127 for ch in url):
        raise WebhookUrlRefused(N_("The address may not contain spaces or control characters."))
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise WebhookUrlRefused(N_("This is not a web address.")) from None
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in schemes:
        raise WebhookUrlRefused(N_("The address must start with https://."))
    if parts.username is not None or parts.password is not None:
        raise WebhookUrlRefused(N_("The address may not contain a user name or password."))
    host = parts.hostname
    if not host:
        raise WebhookUrlRefused(N_("The address has no host name."))
    port = port or (443 if parts.scheme == "https" else 80)
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise WebhookUrlRefused(N_("The host name could not be found.")) from None
    addresses = tuple(dict.fromkeys(str(info[4][0]) for info in found))
    if not addresses:
        raise WebhookUrlRefused(N_("The host name could not be found."))
    if not allow_private and not all(_public(address) for address in addresses):
        raise WebhookUrlRefused(
            N_(
                "The address leads to a private or local network; it must be reachable on the"
                " public internet."
            )
        )
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return Target(scheme=parts.scheme, host=host, port=port, path=path, addresses=addresses)


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, target: Target, address: str, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(
        self, target: Target, address: str, timeout: float, context: ssl.SSLContext
    ) -> None:
        super().__init__(target.host, target.port, timeout=timeout, context=context)
        self._address = address
        self._tls = context

    def connect(self) -> None:
        raw = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._tls.wrap_socket(raw, server_hostname=self.host)


def tls_context(ca_file: str = "") -> ssl.SSLContext:
    context = ssl.create_default_context()
    if ca_file:
        context.load_verify_locations(cafile=ca_file)
    return context


def post(
    target: Target,
    *,
    body: bytes,
    headers: dict[str, str],
    timeout: float,
    context: ssl.SSLContext,
) -> int:
    """POST to the first of the checked addresses; the answer's status. Raises OSError (and
    http.client.HTTPException) when there is no answer."""
    address = target.addresses[0]
    connection: http.client.HTTPConnection
    if target.scheme == "https":
        connection = _PinnedHTTPSConnection(target, address, timeout, context)
    else:
        connection = _PinnedHTTPConnection(target, address, timeout)
    try:
        connection.request(
            "POST",
            target.path,
            body=body,
            headers=headers | {"Content-Type": "application/json", "Connection": "close"},
        )
        response = connection.getresponse()
        response.read(READ_AT_MOST)  # not kept: nothing an endpoint says is stored
        return response.status
    finally:
        connection.close()
