"""What is worth retrying, how long to wait before the next try, and failures in words."""

from __future__ import annotations

import email.utils
import math
import random
import time

import httpx

from sluice.config import Retry

#: answers retried: too many requests, and the server errors that pass
RETRY_STATUS = {429, 500, 502, 503, 504}

NO_ANSWER = "no answer"
DROPPED = "the connection was dropped"


def transport_problem(exc: httpx.TransportError) -> str:
    """A transport error in words: never connected, or connected and then dropped."""
    detail = f"{exc.__class__.__name__}: {exc}".rstrip(": ")
    if isinstance(exc, (httpx.ConnectError, httpx.UnsupportedProtocol)):
        return f"{NO_ANSWER}: could not connect ({detail})"
    return f"{DROPPED} before the answer was complete ({detail})"


def backoff(
    policy: Retry,
    attempt: int,
    rnd: random.Random,
    retry_after: float | None = None,
    cap: float | None = None,
) -> float:
    """Seconds before retry ``attempt + 1``: exponential, with jitter (no thundering
    herd), never shorter than what the server asked for with Retry-After."""
    limit = policy.max_backoff if cap is None else min(policy.max_backoff, max(policy.backoff, cap))
    delay = min(limit, policy.backoff * 2 ** (attempt - 1)) * (0.5 + rnd.random() / 2)
    return max(delay, retry_after or 0.0)


def retry_after(response: httpx.Response) -> float | None:
    """The seconds a ``Retry-After`` header asks for (a number or an HTTP date), or
    None: none, or one that is neither (``soon``, ``inf``), where the backoff decides.
    A value it could not read failed the pull as if the request had not been sent."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = parsed.timestamp() - time.time()
    return max(0.0, seconds) if math.isfinite(seconds) else None


def status_hint(status: int) -> str:
    if status in (401, 403):
        return "check the source's auth settings and the token in the environment"
    if status == 404:
        return "check base_url and endpoint"
    return "check the request parameters against the API's documentation"
