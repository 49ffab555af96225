"""Files fetched over HTTP: streamed to a temporary file under a size limit, then read
by the file source like any local file (zip archives included).

A failed or oversized download fails the run (nothing is loaded); the same retry policy
as for API calls applies: connection errors, timeouts, 429 (with ``Retry-After``) and
500/502/503/504 are retried with exponential backoff and jitter.

A body sent with ``Content-Encoding: gzip`` or ``zstd`` is saved as sent, compressed:
the file source inflates it as it reads (under ``max_unzipped_bytes``), so it is never
inflated whole on disk, and a ``.csv.gz`` a server marks as gzip-encoded stays the gzip
file it is. A zip archive or Parquet file (read from random places) is saved decoded.
"""

from __future__ import annotations

import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlparse

import httpx

from sluice.config import FileSourceConfig
from sluice.errors import FetchError, Where
from sluice.httpclient import RETRY_STATUS, auth_settings, backoff, retry_after, shown_url

Log = Callable[[str, str, dict[str, Any]], None]


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
    headers, params, auth = auth_settings(cfg.auth)
    shown = shown_url(httpx.URL(url, params=params or None), params)  # secrets masked
    policy = cfg.retry
    rnd = random.Random()
    with httpx.Client(
        headers={**cfg.headers, **headers}, auth=auth, timeout=cfg.timeout, follow_redirects=True
    ) as client:
        for attempt in range(1, policy.max_attempts + 1):
            wait: float | None = None
            try:
                with client.stream("GET", url, params=params or None) as response:
                    if response.status_code in RETRY_STATUS:
                        problem = f"HTTP {response.status_code}"
                        wait = retry_after(response)
                    elif response.status_code >= 400:
                        raise FetchError(
                            f"GET {shown} answered HTTP {response.status_code}",
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
