"""The service's settings, built from the environment by a function (never at import).

    SLUICE_OPERATOR_TOKENS   comma-separated tokens that may read and change state
    SLUICE_VIEWER_TOKENS     comma-separated tokens that may only read
    SLUICE_SECRET_KEY        signs session cookies and CSRF tokens (default: random per start)

Outside development (``dev_open``) the service refuses to start without a token, with
a token or secret key that is short or a known placeholder. ``dev_open`` (no auth at
all) is refused unless the service listens on a loopback address only.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field

from sluice.errors import ConfigError

MIN_TOKEN = 16
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
    #: mark the session cookie Secure (send it over https only)
    secure_cookies: bool = False

    def __post_init__(self) -> None:
        self.check()

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
                    f"an API token is too weak (a placeholder, or under {MIN_TOKEN} characters)",
                    hint="make one: python -c 'import secrets; print(secrets.token_urlsafe(32))'",
                )
        if set(self.operator_tokens) & set(self.viewer_tokens):
            raise ConfigError("a token is both an operator and a viewer token")
        if _weak(self.secret_key):
            raise ConfigError(
                "SLUICE_SECRET_KEY is too weak (a placeholder, or under 16 characters)",
                hint="unset it for a random key per start, or set a long random one",
            )


def load_settings(
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    dev_open: bool = False,
    environ: Mapping[str, str] | None = None,
) -> ServiceSettings:
    """Settings from the environment (``environ``, default ``os.environ``) and options."""
    env = os.environ if environ is None else environ
    secret = env.get("SLUICE_SECRET_KEY") or secrets.token_urlsafe(32)
    return ServiceSettings(
        operator_tokens=_tokens(env.get("SLUICE_OPERATOR_TOKENS", "")),
        viewer_tokens=_tokens(env.get("SLUICE_VIEWER_TOKENS", "")),
        secret_key=secret,
        dev_open=dev_open,
        host=host,
        port=port,
        secure_cookies=env.get("SLUICE_SECURE_COOKIES", "") in ("1", "true", "yes"),
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


def _weak(value: str) -> bool:
    return len(value) < MIN_TOKEN or value.lower() in PLACEHOLDERS
