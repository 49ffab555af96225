"""Secrets out of everything sluice prints, stores or sends: URLs and free text.

A URL carries secrets in three places, and :func:`redact_url` shows each as ``***``
while keeping the rest (scheme, host, path, page and other parameters), so a message
still says which page of which API failed:

* the password of its userinfo (``postgresql://user:pw@host``, ``redis://:pw@host``;
  for ``http(s)`` a lone user name too, as ``https://TOKEN@github.com`` is a token);
* query (and fragment) parameters named like credentials (:data:`SECRET_PARAMS`:
  ``password``, ``sslpassword``, ``api_key``, ``access_token``, ``X-Amz-Signature``...),
  plus any names a caller knows are secret (the source's ``auth: {in: query}`` name);
* the path of a chat webhook, which *is* the credential: Slack
  (``hooks.slack.com/services/***``), Discord (``/api/webhooks/***``), Teams
  (``*.webhook.office.com/webhookb2/***``) and any path after a ``hooks`` or
  ``webhook(s)`` segment (Mattermost, Rocket.Chat, Zapier...).

:func:`redact_text` does the same to every ``scheme://`` URL inside free text (an
error, a log line, an API's answer), to ``?name=value`` / ``&name=value`` pairs of
secret names anywhere in it (a relative URL has no scheme), to ``Bearer`` tokens, and
to literal secret values a caller knows (a source's token, echoed back by its API).

Nothing here raises: a malformed URL is masked as well as its text allows. This module
imports nothing of sluice, so every layer (the exception tree included) can use it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar, cast
from urllib.parse import unquote_plus

MASK = "***"
T = TypeVar("T")

#: parameter names whose values are credentials (searched, any case): api_key, apikey,
#: access_token, client_secret, password, sslpassword, X-Amz-Signature, sig, appid...
SECRET_PARAMS = re.compile(
    r"key|token|passw|pwd|secret|signature|sig$|auth(?!or)|credential|jwt|session|appid",
    re.IGNORECASE,
)

#: scheme://, then an optional userinfo (the password may hold "/" or "@": up to the last
#: "@" before the query), host, path, query and fragment
_SCHEME = re.compile(r"^([A-Za-z][\w+.-]*:)(//)")
_USERINFO = re.compile(r"^([^:/@?#]*)(?::([^?#]*))?@")
#: a URL inside free text: stops at white space and at the quotes and brackets around
#: it, and leaves the punctuation after it (``GET http://h/x?key=k: failed``)
_URL_IN_TEXT = re.compile(r"[A-Za-z][\w+.-]*://[^\s\"'`<>]*[^\s\"'`<>.,;:!?)\]}]")
#: name=value after ? & or ; anywhere in text (a relative URL such as /items?token=x)
_PAIR_IN_TEXT = re.compile(
    r"(?<=[?&;])([\w.\-\[\]%]+)=((?:[^&;#\s\"'`<>]*[^&;#\s\"'`<>.,:!?)\]}])?)"
)
_BEARER = re.compile(r"\b(Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]{8,}")

#: hosts whose every path under the first segment is the webhook's secret
_HOOK_HOSTS = re.compile(
    r"(^|\.)(hooks\.slack\.com|discord(app)?\.com|webhook\.office\.com|outlook\.office\.com"
    r"|outlook\.office365\.com)$",
    re.IGNORECASE,
)
#: path segments after which the rest of the path is a webhook's secret, on any host
_HOOK_SEGMENTS = {"hooks", "webhook", "webhooks", "webhookb2", "services"}
_WEB = ("http:", "https:", "ws:", "wss:")


def is_secret_name(name: str, secret: Iterable[str] = ()) -> bool:
    """Whether a parameter (or header) named ``name`` carries a credential."""
    plain = unquote_plus(name)
    return plain in set(secret) or bool(SECRET_PARAMS.search(plain))


def redact_url(url: object, secret: Iterable[str] = ()) -> str:
    """``url`` (a string or an ``httpx.URL``) with its secrets shown as ``***``; the
    names in ``secret`` are parameters to mask whatever their name looks like."""
    text = str(url)
    names = set(secret)
    scheme = _SCHEME.match(text)
    rest = text[scheme.end() :] if scheme else text
    head = scheme.group(0) if scheme else ""
    web = scheme is not None and scheme.group(1).lower() in _WEB
    if scheme:
        user = _USERINFO.match(rest)
        if user and not _port_and_path(user.group(2)):
            name, password = user.group(1), user.group(2)
            if password is not None:
                head += f"{name}:{MASK}@"
            else:
                head += f"{MASK}@" if web and name else f"{name}@"
            rest = rest[user.end() :]
    rest, hash_, fragment = rest.partition("#")
    rest, mark, query = rest.partition("?")
    if scheme:
        rest = _hook_path(rest, web)
    out = head + rest + mark + _params(query, names)
    return out + hash_ + (_params(fragment, names) if "=" in fragment else fragment)


def redact_text(text: str, secret: Iterable[str] = (), values: Iterable[str] = ()) -> str:
    """``text`` with every URL in it redacted (:func:`redact_url`), secret ``name=value``
    pairs masked wherever they are, ``Bearer`` tokens hidden, and each of ``values``
    (known secrets of four characters or more) replaced by ``***``."""
    if not text:
        return text
    if values:
        for value in sorted({v for v in values if v and len(v) >= 4}, key=len, reverse=True):
            text = text.replace(value, MASK)
    # Most text (a file name, a count) holds nothing to mask: no regex runs for it, as a
    # report may hold thousands of such strings.
    if "://" in text or "=" in text:
        names = set(secret)
        text = _URL_IN_TEXT.sub(lambda m: redact_url(m.group(0), names), text)
        text = _PAIR_IN_TEXT.sub(
            lambda m: f"{m.group(1)}={MASK}" if is_secret_name(m.group(1), names) else m.group(0),
            text,
        )
    if "Bearer" in text or "Basic" in text or "Token" in text:
        text = _BEARER.sub(lambda m: f"{m.group(1)} {MASK}", text)
    return text


def redact_data(data: T, secret: Iterable[str] = (), values: Iterable[str] = ()) -> T:
    """``data`` (JSON-like: dicts, lists, strings) with :func:`redact_text` applied to
    every string in it; other values as they are. A copy: ``data`` is not changed."""
    names, known = set(secret), tuple(values)
    out: Any = data
    if isinstance(data, str):
        out = redact_text(data, names, known)
    elif isinstance(data, Mapping):
        out = {k: redact_data(v, names, known) for k, v in data.items()}
    elif isinstance(data, list | tuple):
        out = type(data)(redact_data(v, names, known) for v in data)
    return cast(T, out)


def _port_and_path(password: str | None) -> bool:
    """``host:8080/users/@me``: what looked like a password is a port and a path."""
    return password is not None and bool(re.match(r"^\d*/", password))


def _params(query: str, names: set[str]) -> str:
    if not query:
        return query
    kept = []
    for item in query.split("&"):
        name, eq, _ = item.partition("=")
        kept.append(f"{name}={MASK}" if eq and is_secret_name(name, names) else item)
    return "&".join(kept)


def _hook_path(authority_and_path: str, web: bool) -> str:
    """The path of a webhook URL cut after its first segment (Slack, Discord, Teams) or
    after a ``hooks`` / ``webhook(s)`` segment (any host)."""
    host, slash, path = authority_and_path.partition("/")
    if not web or not path:
        return authority_and_path
    segments = path.split("/")
    hostname = host.rsplit("@", 1)[-1].split(":", 1)[0]
    on_hook_host = _HOOK_HOSTS.search(hostname) is not None
    for i, seg in enumerate(segments[:-1]):
        low = seg.lower()
        generic = low in _HOOK_SEGMENTS and (low != "services" or on_hook_host)
        hook = (on_hook_host and i == 0 and low != "api") or generic
        if hook and any(segments[i + 1 :]):
            return host + slash + "/".join([*segments[: i + 1], MASK])
    return authority_and_path
