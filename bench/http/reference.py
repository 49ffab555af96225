"""The hand-written baseline: fetch every animal sequentially, retrying what fails.

    .venv/bin/python bench/http/reference.py --url http://127.0.0.1:PORT [--out result.json]

This is the usual hand-written client: one ``httpx.Client``, one request at a time, the
list pages first (page 1 gives ``total_pages``), then one detail call per animal, the
detail merged over the summary. A call is retried on 429 (sleeping ``Retry-After``),
500/502/503/504, timeouts, connection errors and 200s whose body is not JSON, with
exponential backoff (``backoff`` x 2^(attempt-1), capped at ``max_backoff``; the same
policy as the sluice bench project, without jitter since nothing runs concurrently).
It never paces itself: it only reacts to 429s.

``bench/http/run.py`` runs it as a child process against a fresh simulator. The result
(records, ids, requests, retries, statuses, seconds) is printed, or written to ``--out``
as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx

LIST = "/animals/v1/animals"
DETAIL = "/animals/v1/animals/{id}"
RETRY_STATUS = {429, 500, 502, 503, 504}


class GaveUp(Exception):
    """A call kept failing for ``max_attempts`` attempts."""


@dataclass
class Result:
    records: int = 0
    requests: int = 0
    retries: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    ids: list[int] = field(default_factory=list)


@dataclass
class Client:
    base_url: str
    max_attempts: int = 10
    backoff: float = 0.5
    max_backoff: float = 30.0
    timeout: float = 5.0
    result: Result = field(default_factory=Result)

    def get(self, http: httpx.Client, path: str, params: dict[str, Any] | None = None) -> Any:
        """GET ``path`` and return its JSON body, retrying transient failures."""
        problem = ""
        for attempt in range(1, self.max_attempts + 1):
            delay = min(self.max_backoff, self.backoff * 2 ** (attempt - 1))
            self.result.requests += 1
            try:
                response = http.get(path, params=params)
            except httpx.TimeoutException:
                problem = "timeout"
            except httpx.TransportError as exc:
                problem = f"connection error: {exc!r}"
            else:
                status = str(response.status_code)
                self.result.statuses[status] = self.result.statuses.get(status, 0) + 1
                if response.status_code == 429:
                    problem = "HTTP 429"
                    delay = max(delay, _retry_after(response))
                elif response.status_code in RETRY_STATUS:
                    problem = f"HTTP {response.status_code}"
                elif response.status_code >= 400:
                    response.raise_for_status()
                else:
                    try:
                        return response.json()
                    except ValueError:
                        problem = "broken JSON"
            if attempt == self.max_attempts:
                break
            self.result.retries += 1
            time.sleep(delay)
        raise GaveUp(f"GET {path} {params or ''} failed {self.max_attempts} times: {problem}")

    def fetch_all(self) -> Result:
        """Every animal: the list pages, then one detail call each. Returns the tally."""
        started = time.monotonic()
        with httpx.Client(base_url=self.base_url, timeout=self.timeout) as http:
            first = self.get(http, LIST, {"page": 1})
            summaries: list[dict[str, Any]] = list(first["items"])
            for page in range(2, int(first["total_pages"]) + 1):
                summaries.extend(self.get(http, LIST, {"page": page})["items"])
            for summary in summaries:
                detail = self.get(http, DETAIL.format(id=summary["id"]))
                record = {**summary, **detail}
                self.result.records += 1
                self.result.ids.append(int(record["id"]))
        self.result.seconds = time.monotonic() - started
        return self.result


def _retry_after(response: httpx.Response) -> float:
    try:
        return max(0.0, float(response.headers.get("Retry-After", "1")))
    except ValueError:
        return 1.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", required=True, help="base URL of the animals API")
    ap.add_argument("--out", help="write the result here as JSON (default: stdout)")
    ap.add_argument("--max-attempts", type=int, default=10)
    ap.add_argument("--backoff", type=float, default=0.5, help="seconds before the 1st retry")
    ap.add_argument("--max-backoff", type=float, default=30.0)
    ap.add_argument("--timeout", type=float, default=5.0, help="seconds per request")
    args = ap.parse_args(argv)
    client = Client(
        args.url.rstrip("/"),
        max_attempts=args.max_attempts,
        backoff=args.backoff,
        max_backoff=args.max_backoff,
        timeout=args.timeout,
    )
    try:
        result = client.fetch_all()
    except (GaveUp, httpx.HTTPError) as exc:
        print(f"reference client failed: {exc}", file=sys.stderr)
        return 1
    text = json.dumps(asdict(result))
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
