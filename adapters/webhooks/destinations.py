"""Where webhooks may be sent: never into the operator's own network (SSRF).

A subscription URL is checked when it is added and again at every delivery:

- its form: an absolute ``http``/``https`` URL of printable ASCII, at most ``MAX_URL_LENGTH``
  characters, with a host, no user name or password, no backslash, a valid port;
- its addresses: the host is resolved and **every** address must be public, i.e. not loopback,
  private (RFC 1918, unique-local), link-local, shared/CGNAT (100.64.0.0/10), multicast,
  reserved, unspecified, documentation or benchmarking space, nor an IPv6 form that embeds such
  an IPv4 address (IPv4-mapped, 6to4, NAT64), nor a cloud metadata endpoint. Ranges listed in
  ``TOLLBOOK_WEBHOOK_ALLOW_CIDRS`` (comma-separated CIDRs) are allowed all the same, except
  that a metadata endpoint needs its own single-address entry (``169.254.169.254/32``).

At delivery the host is resolved once, checked, and the request goes to that very address (the
URL's host is kept in the Host header and TLS SNI, and the certificate is verified against
it), so a name that resolves to a public address when checked and to a private one a moment
later (DNS rebinding) cannot steer the connection.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import SplitResult, urlsplit

from adapters.config_error import ConfigError
from domain.errors import InvalidInput

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
#: (host, port) -> the addresses the host resolves to, as text; raises OSError when it does not
Resolver = Callable[[str, int], Sequence[str]]

ALLOW_ENV = "TOLLBOOK_WEBHOOK_ALLOW_CIDRS"
MAX_URL_LENGTH = 2048
SCHEMES = {"http": 80, "https": 443}
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean, ...
        "169.254.170.2",  # AWS ECS task metadata
        "100.100.100.200",  # Alibaba Cloud
        "fd00:ec2::254",  # AWS over IPv6
    )
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class InvalidWebhookUrl(InvalidInput):
    """The URL itself is not acceptable as a webhook destination."""

    code = "invalid_webhook_url"


class WebhookDestinationRefused(InvalidInput):
    """The URL's host is (or resolves to) an address webhooks may not be sent to."""

    code = "webhook_destination_refused"


def system_resolver(host: str, port: int) -> list[str]:
    """The host's addresses from the system resolver (every family)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def parse_allowed(text: str) -> tuple[IPNetwork, ...]:
    """CIDRs separated by commas or spaces; a bad one is a configuration error."""
    networks: list[IPNetwork] = []
    for part in text.replace(",", " ").split():
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ConfigError(
                f"{ALLOW_ENV}: {part!r} is not an IP range (e.g. 10.1.2.0/24)"
            ) from None
    return tuple(networks)


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def why_not_public(address: IPAddress) -> str | None:
    """None when ``address`` is a public unicast address; otherwise what it is."""
    if address in METADATA_ADDRESSES:
        return "a cloud metadata endpoint"
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            inner = why_not_public(embedded)
            return f"an IPv6 form of {embedded} ({inner})" if inner else None
    for test, words in (
        (address.is_unspecified, "unspecified"),
        (address.is_loopback, "loopback"),
        (address.is_link_local, "link-local"),
        (address.is_multicast, "multicast"),
        (address.is_reserved, "reserved"),
        (address in ipaddress.ip_network("100.64.0.0/10"), "shared address space (CGNAT)"),
        (address.is_private, "private"),
        (not address.is_global, "not globally routable"),
    ):
        if test:
            return words
    return None


@dataclass(frozen=True)
class Destination:
    """A checked URL and the one address a delivery connects to."""

    url: str
    scheme: str
    host: str  # as in the URL, without brackets
    port: int
    target: str  # path and query, as sent on the request line
    address: IPAddress

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == SCHEMES[self.scheme] else f"{host}:{self.port}"

    @property
    def pinned_url(self) -> str:
        """The URL with its host replaced by the checked address."""
        ip = f"[{self.address}]" if self.address.version == 6 else str(self.address)
        return f"{self.scheme}://{ip}:{self.port}{self.target}"


@dataclass(frozen=True)
class DestinationPolicy:
    """Which webhook URLs are accepted and delivered to. ``resolve`` is injectable (tests)."""

    allowed: tuple[IPNetwork, ...] = ()
    resolve: Resolver = field(default=system_resolver)

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, resolve: Resolver = system_resolver
    ) -> DestinationPolicy:
        source = os.environ if env is None else env
        return cls(parse_allowed(source.get(ALLOW_ENV, "")), resolve)

    def check_form(self, url: object) -> SplitResult:
        """The URL's parts, or InvalidWebhookUrl saying what is wrong with it."""
        if not isinstance(url, str) or not url:
            raise InvalidWebhookUrl("a webhook URL is required")
        if len(url) > MAX_URL_LENGTH:
            raise InvalidWebhookUrl(
                f"a webhook URL may be at most {MAX_URL_LENGTH} characters, not {len(url)}"
            )
        if not url.isascii() or any(not ch.isprintable() or ch.isspace() for ch in url):
            raise InvalidWebhookUrl(
                "a webhook URL must be printable ASCII without spaces or control characters"
                " (CR, LF, tab, NUL, ...): percent-encode them, and write international host"
                " names in punycode"
            )
        if "\\" in url:
            raise InvalidWebhookUrl("a webhook URL must not contain a backslash")
        parts = urlsplit(url)
        if parts.scheme.lower() not in SCHEMES:
            raise InvalidWebhookUrl(
                f"a webhook URL must start with http:// or https://, not {parts.scheme or url!r}"
            )
        if "@" in parts.netloc:
            raise InvalidWebhookUrl(
                "a webhook URL must not carry a user name or password (use the signing secret)"
            )
        if not parts.hostname:
            raise InvalidWebhookUrl("a webhook URL needs a host name")
        try:
            port = parts.port
        except ValueError:
            port = -1
        if port is not None and not 0 < port < 65536:
            raise InvalidWebhookUrl("a webhook URL's port must be a number from 1 to 65535")
        return parts

    def check(self, url: str) -> Destination:
        """The checked destination of ``url``: its form, then every address it resolves to."""
        parts = self.check_form(url)
        scheme = parts.scheme.lower()
        host = str(parts.hostname)
        port = parts.port or SCHEMES[scheme]
        addresses = self._addresses(host, port)
        for address in addresses:
            self._check_address(host, address)
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        return Destination(url, scheme, host, port, target, addresses[0])

    def _addresses(self, host: str, port: int) -> list[IPAddress]:
        literal = _literal(host)
        if literal is not None:
            if isinstance(literal, ipaddress.IPv6Address) and literal.scope_id:
                raise InvalidWebhookUrl("a webhook URL's IPv6 address must not name a zone")
            return [literal]
        try:
            found = [ipaddress.ip_address(a.split("%", 1)[0]) for a in self.resolve(host, port)]
        except (OSError, UnicodeError, ValueError) as error:
            raise WebhookDestinationRefused(
                f"webhook host {host!r} does not resolve, so it cannot be checked: {error}"
            ) from None
        if not found:
            raise WebhookDestinationRefused(f"webhook host {host!r} has no address")
        return found

    def _check_address(self, host: str, address: IPAddress) -> None:
        reason = why_not_public(address)
        if reason is None:
            return
        if address in METADATA_ADDRESSES:
            permitted = any(
                network.num_addresses == 1 and address in network for network in self.allowed
            )
        else:
            permitted = self._allowed(address)
        if not permitted:
            shown = host if _literal(host) == address else f"{host!r} resolves to {address}, which"
            raise WebhookDestinationRefused(
                f"webhook destination {shown} is {reason}: webhooks go only to public addresses"
                f" (an operator can allow a range with {ALLOW_ENV})"
            )

    def _allowed(self, address: IPAddress) -> bool:
        """Whether an allowed range holds ``address`` or the IPv4 address it embeds."""
        inner = _embedded_ipv4(address) if isinstance(address, ipaddress.IPv6Address) else None
        return any(
            address in network or (inner is not None and inner in network)
            for network in self.allowed
        )
