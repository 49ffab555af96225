"""The service's settings, built from the environment by a function (never at import).

    SLUICE_OPERATOR_TOKENS   comma-separated tokens that may read and change state
    SLUICE_VIEWER_TOKENS     comma-separated tokens that may only read
    SLUICE_SECRET_KEY        signs session cookies and CSRF tokens (default: random per start)
    SLUICE_ALLOWED_HOSTS     comma-separated names the service answers to besides localhost,
                             127.0.0.1, [::1] and its --host (a proxy's or a DNS name; * any)
    SLUICE_SECURE_COOKIES    1: the session cookie is ``Secure`` (sent over https only);
                             0: it is not; unset: Secure unless the service listens on a
                             loopback address only (or serves https itself)

Outside development (``dev_open``) the service refuses to start without a token, with
a token or secret key that is guessable (short, a placeholder, or too little variety:
see :func:`token_bits`). ``dev_open`` (no auth at all) is refused unless the service
listens on a loopback address only.
"""

from __future__ import annotations

import ipaddress
import math
import os
import secrets
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import pairwise

from sluice.errors import ConfigError

MIN_TOKEN = 16
#: the least estimated entropy of a token or secret key (secrets.token_urlsafe(32): ~250)
MIN_BITS = 80
MAKE_TOKEN = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
PLACEHOLDERS = {"changethis", "changeme", "secret", "token", "password", "dev", "test"}
LOOPBACK_NAMES = {"localhost"}


@dataclass(frozen=True)
class ServiceSettings:
    operator_tokens: tuple[str, ...] = field(default=(), repr=False)
    viewer_tokens: tuple[str, ...] = field(default=(), repr=False)
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)
    dev_open: bool = False
    host: str = "127.0.0.1"
    port: int = 8000
    #: how long a signed-in session lasts, seconds
    session_max_age: int = 12 * 3600
    #: mark the session cookie Secure (send it over https only); None: by the host (Secure
    #: unless loopback only, or when the service serves https itself), see ``cookies_secure``
    secure_cookies: bool | None = None
    #: the service serves https itself (``sluice serve --ssl-certfile``)
    tls: bool = False

    #: Host header names answered besides loopback and ``host`` (:mod:`sluice.service.guard`)
    allowed_hosts: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self.check()

    @property
    def loopback(self) -> bool:
        """Whether the service listens on a loopback address only."""
        return is_loopback(self.host)

    @property
    def cookies_secure(self) -> bool:
        """Whether the session cookie is ``Secure``: an explicit setting wins; else yes off
        loopback (a browser there reaches the service over https, through a proxy or
        ``--ssl-certfile``) and with TLS, no on loopback only (plain http to itself)."""
        if self.secure_cookies is not None:
            return self.secure_cookies
        return self.tls or not is_loopback(self.host)

    def check(self) -> None:
        """Refuse what is unsafe: open mode off loopback, weak or missing tokens."""
        if self.dev_open:
            if not is_loopback(self.host):
                raise ConfigError(
                    f"--dev-open turns authentication off: it is allowed only on a loopback "
                    f"address, not {self.host!r}",
                    hint="use --host 127.0.0.1, or set SLUICE_OPERATOR_TOKENS and drop --dev-open",
                )
            return
        if not self.operator_tokens and not self.viewer_tokens:
            raise ConfigError(
                "no API token: set SLUICE_OPERATOR_TOKENS (and SLUICE_VIEWER_TOKENS)",
                hint="e.g. export SLUICE_OPERATOR_TOKENS=$(python -c 'import secrets; "
                "print(secrets.token_urlsafe(32))'); or --dev-open on 127.0.0.1",
            )
        for token in (*self.operator_tokens, *self.viewer_tokens):
            if _weak(token):
                raise ConfigError(
                    f"an API token is too weak: {_why_weak(token)}",
                    hint=f"make one: {MAKE_TOKEN}",
                )
        if set(self.operator_tokens) & set(self.viewer_tokens):
            raise ConfigError("a token is both an operator and a viewer token")
        if _weak(self.secret_key):
            raise ConfigError(
                f"SLUICE_SECRET_KEY is too weak: {_why_weak(self.secret_key)}",
                hint=f"unset it for a random key per start, or make one: {MAKE_TOKEN}",
            )


def load_settings(
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    dev_open: bool = False,
    tls: bool = False,
    environ: Mapping[str, str] | None = None,
) -> ServiceSettings:
    """Settings from the environment (``environ``, default ``os.environ``) and options;
    ``tls``: the service serves https itself."""
    env = os.environ if environ is None else environ
    secret = env.get("SLUICE_SECRET_KEY") or secrets.token_urlsafe(32)
    return ServiceSettings(
        operator_tokens=_tokens(env.get("SLUICE_OPERATOR_TOKENS", "")),
        viewer_tokens=_tokens(env.get("SLUICE_VIEWER_TOKENS", "")),
        secret_key=secret,
        dev_open=dev_open,
        host=host,
        port=port,
        allowed_hosts=_tokens(env.get("SLUICE_ALLOWED_HOSTS", "")),
        secure_cookies=_flag(env.get("SLUICE_SECURE_COOKIES", "")),
        tls=tls,
    )


def is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _tokens(value: str) -> tuple[str, ...]:
    return tuple(t.strip() for t in value.split(",") if t.strip())


def _flag(value: str) -> bool | None:
    """1/true/yes or 0/false/no; None when unset (or anything else: the default)."""
    value = value.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    return None


#: character classes and how many characters each offers a random token
_CLASSES = ((str.islower, 26), (str.isupper, 26), (str.isdigit, 10))
_OTHER = 33  # printable punctuation and the like


def token_bits(value: str) -> float:
    """A cautious estimate of the entropy of ``value``, in bits.

    Each character counts log2 of the pool its classes offer (lower, upper, digits,
    other), except one that repeats its predecessor or follows it in the alphabet
    (``aaaa``, ``1234``, ``abcd``) counts one bit; and never more than the
    deflated size says (``acacac...``, ``op-ooooo...`` compress to a few bytes). A
    random token of 16 letters and digits counts ~95 bits, one from ``secrets.
    token_urlsafe(32)`` ~250, ``aaaaaaaaaaaaaaaa`` under 10.
    """
    if not value:
        return 0.0
    pool = sum(size for test, size in _CLASSES if any(test(c) and c.isascii() for c in value))
    if any(not (c.isascii() and c.isalnum()) for c in value):
        pool += _OTHER
    steps = sum(abs(ord(a) - ord(b)) <= 1 for a, b in pairwise(value))
    counted = (len(value) - steps) * math.log2(max(pool, 2)) + steps  # a step: one bit
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)  # raw deflate: no header to count
    packed = len(packer.compress(value.encode()) + packer.flush())
    return min(counted, 8.0 * packed - 16)


def _weak(value: str) -> bool:
    return len(value) < MIN_TOKEN or value.lower() in PLACEHOLDERS or token_bits(value) < MIN_BITS


def _why_weak(value: str) -> str:
    if value.lower() in PLACEHOLDERS:
        return "a known placeholder"
    if len(value) < MIN_TOKEN:
        return f"{len(value)} characters, at least {MIN_TOKEN} are needed"
    return (
        f"about {token_bits(value):.0f} bits of entropy, at least {MIN_BITS} are needed "
        "(repeated characters and runs like 1234 or abcd count for little)"
    )
