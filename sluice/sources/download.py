"""Files fetched over HTTP: streamed to a temporary file under a size limit, then read
by the file source like any local file (zip archives included).

A failed or oversized download fails the run (nothing is loaded); the same retry policy
as for API calls applies: connection errors, timeouts, 429 (with ``Retry-After``) and
500/502/503/504 are retried with exponential backoff and jitter.

A body sent with ``Content-Encoding: gzip`` or ``zstd`` is saved as sent, compressed:
the file source inflates it as it reads (under ``max_unzipped_bytes``), so it is never
inflated whole on disk, and a ``.csv.gz`` a server marks as gzip-encoded stays the gzip
file it is. A zip archive or Parquet file (read from random places) is saved decoded.

Redirects are followed (up to ``MAX_REDIRECTS``: public files often live on a CDN), but
the source's ``auth`` and ``headers`` go only to the origin of ``url`` and to its
``trusted_origins``: a redirect elsewhere is fetched without them (and says so in the
log), so a token never reaches a host it was not written for.
"""

from __future__ import annotations

import random
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlparse

import httpx

from sluice.config import FileSourceConfig
from sluice.errors import FetchError, Where
from sluice.httpclient import (
    RETRY_STATUS,
    auth_settings,
    backoff,
    origin,
    retry_after,
    secret_values,
    shown_url,
)
from sluice.httpclient.tls import verifying_context
from sluice.redact import redact_text

Log = Callable[[str, str, dict[str, Any]], None]
MAX_REDIRECTS = 10


class Download:
    """A downloaded file; the folder holding it is removed when this object goes."""

    def __init__(self, path: Path, folder: tempfile.TemporaryDirectory[str]) -> None:
        self.path, self._folder = path, folder


def download(cfg: FileSourceConfig, log: Log | None = None) -> Download:
    assert cfg.url is not None
    url = cfg.url
    name = PurePosixPath(urlparse(url).path).name or "download"
    folder = tempfile.TemporaryDirectory(prefix="sluice-download-")
    dest = Path(folder.name) / name
    creds = _Credentials(cfg, log)
    shown = creds.show(httpx.URL(url, params=creds.params or None))  # secrets masked
    policy = cfg.retry
    rnd = random.Random()
    with httpx.Client(timeout=cfg.timeout, verify=verifying_context()) as client:
        for attempt in range(1, policy.max_attempts + 1):
            wait: float | None = None
            try:
                with _get(client, url, creds) as response:
                    if response.status_code in RETRY_STATUS:
                        problem = f"HTTP {response.status_code}"
                        wait = retry_after(response)
                    elif response.status_code >= 400:
                        moved = response.url.copy_with(query=None) != httpx.URL(url).copy_with(
                            query=None
                        )
                        to = f" (redirected to {creds.show(response.url)})" if moved else ""
                        raise FetchError(
                            f"GET {shown}{to} answered HTTP {response.status_code}",
                            status=response.status_code,
                            where=Where(file=shown),
                            hint="check the source's url and auth",
                        )
                    else:
                        raw = _keep_compressed(response, name, cfg.format)
                        _save(response, dest, cfg.max_download_bytes, shown, raw=raw)
                        return Download(dest, folder)
            except httpx.TimeoutException:
                problem = f"no data for {cfg.timeout:g} s"
            except httpx.TransportError as exc:
                problem = f"connection error: {exc.__class__.__name__}: {exc}".rstrip(": ")
                problem = redact_text(problem, creds.params, creds.secrets)
            if attempt == policy.max_attempts:
                break
            delay = backoff(policy, attempt, rnd, wait)
            if log is not None:
                log(
                    "warning",
                    f"retry {attempt}/{policy.max_attempts - 1} of GET {shown} in {delay:.2f} s: "
                    f"{problem}",
                    {"url": shown, "attempt": attempt, "delay": round(delay, 3)},
                )
            time.sleep(delay)
    raise FetchError(
        f"GET {shown} failed {policy.max_attempts} times; last: {problem}",
        where=Where(file=shown),
        hint=f"`curl -sI {shown_url(url)}` shows whether the server answers and the url is "
        f"right; if it is flaky, raise retry.max_attempts (now {policy.max_attempts})",
    )


class _Credentials:
    """What a download sends to trusted origins only, and how its messages show URLs."""

    def __init__(self, cfg: FileSourceConfig, log: Log | None) -> None:
        assert cfg.url is not None
        headers, self.params, self.auth = auth_settings(cfg.auth)
        self.headers = {**cfg.headers, **headers}
        self.trusted = {origin(cfg.url), *(origin(o) for o in cfg.trusted_origins)}
        self.secrets = secret_values(cfg.auth)
        self.log = log
        self._warned: set[tuple[str, str, int | None]] = set()

    def show(self, url: str | httpx.URL) -> str:
        return redact_text(shown_url(url, self.params), self.params, self.secrets)

    def trusts(self, url: httpx.URL) -> bool:
        where = origin(url)
        if where in self.trusted:
            return True
        if where not in self._warned and (self.headers or self.params or self.auth):
            self._warned.add(where)
            if self.log is not None:
                shown = self.show(url)
                self.log(
                    "warning",
                    f"the download was redirected to {shown}, another origin: fetched without "
                    "the source's auth and headers; list the origin under trusted_origins "
                    "to send them there",
                    {"url": shown},
                )
        return False


@contextmanager
def _get(client: httpx.Client, url: str, creds: _Credentials) -> Iterator[httpx.Response]:
    """GET ``url`` as a stream, following redirects; each hop gets the credentials only
    when its origin is trusted (httpx would keep custom headers and query keys)."""
    target = httpx.URL(url)
    for _ in range(MAX_REDIRECTS + 1):
        trusted = creds.trusts(target)
        request = client.build_request(
            "GET",
            target,
            params=(creds.params or None) if trusted else None,
            headers=creds.headers if trusted else None,
        )
        response = client.send(request, auth=creds.auth if trusted else None, stream=True)
        location = response.headers.get("Location")
        if not (response.is_redirect and location):
            try:
                yield response
            finally:
                response.close()
            return
        response.close()
        target = response.url.join(location)
    raise FetchError(
        f"GET {creds.show(url)} redirected more than {MAX_REDIRECTS} times",
        where=Where(file=creds.show(url)),
        hint="check the source's url: the server sends it round in circles",
    )


#: content encodings whose bytes the file source tells by their magic and inflates
STREAMED_ENCODINGS = {"gzip", "x-gzip", "zstd"}


def _keep_compressed(response: httpx.Response, name: str, fmt: str | None) -> bool:
    encoding = response.headers.get("Content-Encoding", "").strip().lower()
    random_access = fmt == "parquet" or PurePosixPath(name).suffix.lower() in (
        ".zip",
        ".parquet",
        ".pq",
    )
    return encoding in STREAMED_ENCODINGS and not random_access


def _save(response: httpx.Response, dest: Path, limit: int, url: str, *, raw: bool) -> None:
    """Stream the body to ``dest``; ``raw``: as sent, without undoing its Content-Encoding.
    Content-Length counts the bytes sent, never more than they decode to."""
    declared = response.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise _too_big(url, limit, int(declared))
    size = 0
    chunks = response.iter_raw(1 << 20) if raw else response.iter_bytes(1 << 20)
    with open(dest, "wb") as out:
        for chunk in chunks:
            size += len(chunk)
            if size > limit:  # the server may not say, or may lie: count what arrives
                raise _too_big(url, limit, size)
            out.write(chunk)


def _too_big(url: str, limit: int, size: int) -> FetchError:
    return FetchError(
        f"the download from {url} is larger than max_download_bytes ({limit:,} bytes; "
        f"{size:,} seen)",
        where=Where(file=url),
        hint="raise max_download_bytes on the source if the file is expected to be this large",
    )
