"""The client: one request, through the gates, retried as the policy says, counted."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import httpx

from sluice import jsonnumbers
from sluice.config import HttpAuth, Retry
from sluice.errors import FetchError, Where
from sluice.httpclient.credentials import auth_settings, origin, secret_values, shown_url
from sluice.httpclient.gates import AdaptiveLimit, RateLimiter
from sluice.httpclient.pools import Pools
from sluice.httpclient.retries import (
    DROPPED,
    NO_ANSWER,
    RETRY_STATUS,
    backoff,
    retry_after,
    status_hint,
    transport_problem,
)
from sluice.httpclient.stats import HttpStats
from sluice.httpclient.tls import verifying_context
from sluice.redact import redact_text

EventSink = Callable[[str, str, dict[str, Any]], None]  # (level, message, data)


class DeadlineExceeded(FetchError):
    pass


class HttpSettings(Protocol):
    """What the client needs of a source's or a destination's configuration."""

    @property
    def base_url(self) -> str: ...

    headers: dict[str, str]
    auth: HttpAuth | None
    timeout: float
    deadline: float | None
    retry: Retry
    rate_limit: float | None
    concurrency: int
    max_concurrency: int


class HttpClient:
    def __init__(
        self,
        cfg: HttpSettings,
        *,
        where: str,
        on_event: EventSink | None = None,
        seed: int | None = None,
        again: str | None = None,
    ) -> None:
        """``again``: the command that pulls again (``sluice run PIPELINE``), for hints."""
        self.cfg = cfg
        self.where = where
        self.again = f"`{again}`" if again else "a new run"
        self.on_event = on_event or (lambda level, msg, data: None)
        self.stats = HttpStats()
        self.rate = RateLimiter(cfg.rate_limit)
        self.limit = AdaptiveLimit(cfg.concurrency, cfg.max_concurrency)
        self.started = time.monotonic()
        self._sending = 0
        self._random = random.Random(seed)
        auth_headers, params, auth = auth_settings(cfg.auth)
        # The credentials are not the client's: each request gets them only when it goes
        # to a trusted origin (see the module's docstring).
        self._headers = {**cfg.headers, **auth_headers}
        self._auth = auth
        self._auth_params = params
        self._secrets = secret_values(cfg.auth)
        trusted = getattr(cfg, "trusted_origins", None) or []  # an http destination: none
        self._trusted = {origin(cfg.base_url), *(origin(o) for o in trusted)}
        self._warned: set[tuple[str, str, int | None]] = set()
        self.client = Pools(
            cfg.max_concurrency,
            base_url=cfg.base_url,
            timeout=cfg.timeout,
            verify=verifying_context(),
        )

    async def close(self) -> None:
        await self.client.aclose()

    def shown(self, url: str | httpx.URL) -> str:
        """``url`` as messages, reasons and the run log show it: secrets masked."""
        return redact_text(shown_url(url, self._auth_params), values=self._secrets)

    def redact(self, text: str) -> str:
        """``text`` (an API's answer, an error) with the source's secrets masked."""
        return redact_text(text, self._auth_params, self._secrets)

    def _trusts(self, url: httpx.URL) -> bool:
        """Whether ``url`` may get the source's credentials; the first request to each
        other origin is logged when there were credentials to hold back."""
        where = origin(url)
        if where in self._trusted:
            return True
        if where not in self._warned and (self._headers or self._auth or self._auth_params):
            self._warned.add(where)
            shown = self.shown(url)
            scheme, host, port = where
            other = f"{scheme}://{host}:{port}"
            self.on_event(
                "warning",
                f"{shown} is on another origin ({other}) than base_url: sent without the "
                "source's auth and headers; list the origin under trusted_origins to send "
                "them there",
                {"url": shown, "origin": other},
            )
        return False

    def _remaining(self) -> float | None:
        if self.cfg.deadline is None:
            return None
        return self.cfg.deadline - (time.monotonic() - self.started)

    def _check_deadline(self, url: str) -> None:
        left = self._remaining()
        if left is not None and left <= 0:
            raise DeadlineExceeded(
                f"the pull took longer than its deadline of {self.cfg.deadline:g} s "
                f"({self.stats.requests} requests, {self.stats.retries} retries)",
                where=Where(file=url),
                hint="raise `deadline` on the source, or check the API's health",
            )

    async def _enter(self, before_send: Callable[[], Awaitable[None]] | None) -> None:
        """Pass both gates. The slot first, then the rate gate: a request that passed the
        rate gate and then queued for a slot would go out in a burst with the others."""
        await self.limit.acquire()
        try:
            await self.rate.wait()
            if before_send is not None:
                await before_send()
        except BaseException:
            await self.limit.release(ok=False, overloaded=False, latency=0.0)
            raise

    async def get_json(
        self, url: str, params: dict[str, Any] | None = None
    ) -> tuple[Any, httpx.Response]:
        """GET ``url`` and parse its JSON body, retrying what is worth retrying."""
        return await self.request("GET", url, params=params)

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        before_send: Callable[[], Awaitable[None]] | None = None,
    ) -> tuple[Any, httpx.Response]:
        """One request, retried as the policy says; ``before_send`` runs once, right
        before the first attempt leaves (past the rate and concurrency gates)."""
        policy = self.cfg.retry
        target = self.client.build_request(method, url).url  # base_url joined, query kept
        trusted = self._trusts(target)
        query = {**(self._auth_params if trusted else {}), **(params or {})}
        headers, auth = (self._headers, self._auth) if trusted else ({}, None)
        # Merged into the URL's own query: httpx's ``params=`` would replace it (a next
        # link's ?page=2 was lost when the key went in the query).
        built = target.copy_merge_params(query) if query else target
        full = self.shown(built)  # for messages: secrets masked
        attempt = 0
        while True:
            attempt += 1
            self._check_deadline(full)
            await self._enter(before_send if attempt == 1 else None)
            start = time.monotonic()
            self._sending += 1  # on the wire now (past both gates): what the report shows
            self.stats.max_concurrency = max(self.stats.max_concurrency, self._sending)
            problem: str
            status: int | None = None
            wait: float | None = None
            ok = overloaded = False
            try:
                timeout = self.cfg.timeout
                left = self._remaining()
                if left is not None:
                    timeout = max(0.001, min(timeout, left))
                response = await self.client.request(
                    method,
                    built,
                    json=json_body,
                    timeout=timeout,
                    headers=headers,
                    auth=auth,
                )
                status = response.status_code
                self.stats.requests += 1
                key = str(status)
                self.stats.statuses[key] = self.stats.statuses.get(key, 0) + 1
                if status in RETRY_STATUS:
                    wait = retry_after(response) if status in (429, 503) else None
                    # Overload is 429, or a 503 that says when to come back. A bare 5xx
                    # is a failure to retry, not a reason to slow every other call down.
                    overloaded = status == 429 or wait is not None
                    problem = f"HTTP {status}"
                elif status >= 400:
                    raise FetchError(
                        f"{method} {full} answered HTTP {status}: "
                        + self.redact(response.text[:200]),
                        status=status,
                        where=Where(file=self.where),
                        hint=status_hint(status),
                    )
                else:
                    try:
                        # Fractions keep their digits (1.50, 17+ digits).
                        body = jsonnumbers.loads(response.content) if response.content else None
                    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                        problem = f"body is not valid JSON ({exc.__class__.__name__})"
                    else:
                        ok = True
                        return body, response
            except httpx.TimeoutException:
                self.stats.requests += 1
                problem = f"timed out after {self.cfg.timeout:g} s"
                overloaded = True
            except httpx.TransportError as exc:
                self.stats.requests += 1
                problem = self.redact(transport_problem(exc))
            except (FetchError, asyncio.CancelledError):
                raise
            except Exception as exc:  # a transport that is not the network (a cassette)
                said = self.redact(str(exc))
                raise FetchError(
                    f"{method} {full} could not be sent: {said.splitlines()[0]}",
                    where=Where(file=self.where),
                    hint=f"{exc.__class__.__name__}: " + " ".join(said.split())[:300],
                ) from None
            finally:
                self._sending -= 1
                await self.limit.release(
                    ok=ok, overloaded=overloaded, latency=time.monotonic() - start
                )
            if attempt >= policy.max_attempts:
                raise FetchError(
                    f"{method} {full} failed {attempt} times; last: {problem}",
                    status=status,
                    where=Where(file=self.where),
                    hint=self._hint(status, problem),
                )
            # The rate limiter already bounds what the API sees: a plain failure need not
            # wait long, and a long wait at the end of a pull is pure tail.
            short = bool(self.cfg.rate_limit) and not overloaded
            delay = backoff(policy, attempt, self._random, wait, cap=2.0 if short else None)
            if wait is not None:
                self.rate.hold(wait)
            self.stats.retries += 1
            self.on_event(
                "warning",
                f"retry {attempt}/{policy.max_attempts - 1} of {method} {full} in {delay:.2f} s: "
                f"{problem}",
                {"url": full, "status": status, "attempt": attempt, "delay": round(delay, 3)},
            )
            left = self._remaining()
            if left is not None and delay > left:
                self._check_deadline(full)
                delay = max(0.0, left)
            await asyncio.sleep(delay)

    def _hint(self, status: int | None, problem: str) -> str:
        """What to do once the retries are spent: an API that never answered may be
        down or misaddressed; one that answered and then dropped connections is alive
        but straining."""
        tries = f"retry.max_attempts (now {self.cfg.retry.max_attempts})"
        connection = problem.startswith((NO_ANSWER, DROPPED))
        if status is not None or not connection:
            return f"the API keeps failing: raise {tries} on the source, or try later: {self.again}"
        answered = sum(self.stats.statuses.values())
        if not answered:
            return (
                f"is the API up, and is base_url right? `curl -sI {shown_url(self.cfg.base_url)}` "
                f"shows whether it answers; then {self.again} pulls again"
            )
        return (
            f"the API answered {answered:,} request(s) of this pull, then stopped: it is up "
            f"but may be overloaded or restarting. Lower max_concurrency (now "
            f"{self.cfg.max_concurrency}) or set rate_limit on the source, or raise {tries}; "
            f"then {self.again} pulls again"
        )
