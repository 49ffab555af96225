"""Failure alerts for ``sluice serve``: a Slack-compatible message to a webhook.

After each run, :meth:`Alerter.after_run` posts to ``alerts.webhook`` when the run
failed, or when more than ``alerts.quarantine_threshold`` of the rows it read went to
quarantine. The message (``{"text": ..., "blocks": [...]}``, as Slack's incoming
webhooks take it) names the pipeline, the status, the counts, the first error with its
hint, and links to ``{alerts.base_url}/runs/{run_id}``.

Delivery is retried with backoff on 429, 5xx and network errors (honouring Retry-After).
An alert that cannot be delivered is written to the run's log in the state store as a
warning; it is never raised. The webhook URL is a secret: it appears in no log.

Everything in the message comes from the run (file names, errors, API answers), so it
is escaped for Slack's mrkdwn in every field (``&``, ``<`` and ``>`` as entities: a file
named ``<!channel> <http://evil|click>.csv`` cannot ping a channel or disguise a link),
and every URL in it has its secrets masked (:mod:`sluice.redact`).
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Mapping
from typing import Any

import httpx

from sluice.config import Project, Retry
from sluice.engine.report import RunReport
from sluice.errors import WhereRecord
from sluice.httpclient import RETRY_STATUS, backoff, retry_after
from sluice.httpclient.tls import verifying_context
from sluice.redact import redact_data
from sluice.state.store import StateStore
from sluice.status import RunStatus

log = logging.getLogger("sluice.alerts")

DEFAULT_RETRY = Retry(max_attempts=5, backoff=1.0, max_backoff=15.0)
MAX_TEXT = 1500  # Slack cuts a section's text at 3,000 characters


def as_report(report: RunReport | Mapping[str, Any]) -> RunReport:
    """A run's report as the state store keeps it (every URL's secrets masked), typed:
    from a ``RunReport`` or from the document of one."""
    return RunReport.model_validate(report.as_dict() if isinstance(report, RunReport) else report)


def alert_reason(report: RunReport, threshold: float) -> str | None:
    """Why this run deserves an alert, or None if it does not."""
    if report.status == RunStatus.FAILED:
        return "failed"
    read, quarantined = report.totals.read, report.totals.quarantined
    if read and quarantined / read > threshold:
        return f"{quarantined / read:.0%} of rows quarantined (threshold {threshold:.0%})"
    return None


class Alerter:
    """``Alerter(project).after_run(report)``: post an alert if the run needs one."""

    def __init__(
        self,
        project: Project,
        *,
        store: StateStore | None = None,
        retry: Retry = DEFAULT_RETRY,
        timeout: float = 10.0,
    ) -> None:
        self.project = project
        self.config = project.alerts
        self.store = store
        self.retry = retry
        self.timeout = timeout
        self._random = random.Random()

    @property
    def enabled(self) -> bool:
        return bool(self.config.webhook)

    def run_link(self, run_id: str) -> str:
        return f"{self.config.base_url.rstrip('/')}/runs/{run_id}"

    def after_run(self, report: RunReport | Mapping[str, Any]) -> bool:
        """Alert if the run failed or quarantined too much; True if an alert was delivered.

        Never raises: an alert that cannot be delivered goes to the run's log.
        """
        data = as_report(report)
        reason = alert_reason(data, self.config.quarantine_threshold)
        if reason is None or not self.config.webhook:
            return False
        try:
            problem = self._post(self.message(data, reason))
        except Exception as exc:  # an alert must never take the service down
            problem = f"{type(exc).__name__}: {self._redact(str(exc))}"
        if problem is None:
            return True
        self._log_undelivered(data.run_id, problem)
        return False

    # ------------------------------------------------------------------ the message

    def message(self, report: RunReport, reason: str) -> dict[str, Any]:
        run_id, pipeline, kind = report.run_id, report.pipeline or "?", report.kind
        status, totals = str(report.status), report.totals
        link = self.run_link(run_id)
        counts = (
            f"read {totals.read}, loaded {totals.loaded}, "
            f"quarantined {totals.quarantined}, filtered {totals.filtered}"
        )
        if totals.quarantined_files:
            counts += f"; {totals.quarantined_files} file(s) set aside"
        errors = report.errors
        first = errors[0] if errors else None
        title = f"sluice: {kind} of {pipeline} {status}"
        text = _esc(f"{title} ({reason}). {counts}.")
        if first:
            text += f" Error: {_esc(_short(first['message']))}"
            if first.get("hint"):
                text += f" Hint: {_esc(_short(first['hint']))}"
        text += f" {_esc(link)}"
        blocks: list[dict[str, Any]] = [
            {"type": "header", "text": {"type": "plain_text", "text": _esc(title, 150)}},
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": f"*Pipeline*\n{_esc(pipeline)}"},
                    {"type": "mrkdwn", "text": f"*Status*\n{_esc(status)}"},
                    {"type": "mrkdwn", "text": f"*Why*\n{_esc(reason)}"},
                    {"type": "mrkdwn", "text": f"*Rows*\n{_esc(counts)}"},
                ],
            },
        ]
        if first:
            lines = [f"*Error*: {_esc(_short(first['message']))}"]
            where = first.get("where")
            if where:
                lines.append(f"*Where*: {_esc(_where(where))}")
            if first.get("hint"):
                lines.append(f"*Hint*: {_esc(_short(first['hint']))}")
            if len(errors) > 1:
                lines.append(f"({len(errors) - 1} more error(s) in the run)")
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}})
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"<{_esc(link)}|Open run {_esc(run_id)}>"},
            }
        )
        return redact_data({"text": text, "blocks": blocks})

    # ------------------------------------------------------------------ delivery

    def _post(self, message: dict[str, Any]) -> str | None:
        """POST with retries; None when delivered, else what went wrong (no URL in it)."""
        url = str(self.config.webhook)
        problem = "not sent"
        with httpx.Client(timeout=self.timeout, verify=verifying_context()) as client:
            for attempt in range(1, self.retry.max_attempts + 1):
                wait: float | None = None
                try:
                    response = client.post(url, json=message)
                except httpx.HTTPError as exc:
                    problem = f"{type(exc).__name__}: {self._redact(str(exc))}"
                else:
                    status = response.status_code
                    if status < 300:
                        return None
                    problem = (
                        f"the webhook answered HTTP {status}: {self._redact(response.text[:200])}"
                    )
                    if status not in RETRY_STATUS:
                        return problem  # 400, 403, 404: sending again will not help
                    wait = retry_after(response)
                if attempt < self.retry.max_attempts:
                    delay = backoff(self.retry, attempt, self._random, wait)
                    log.info(
                        "alert attempt %d failed (%s); retrying in %.2f s", attempt, problem, delay
                    )
                    time.sleep(delay)
        return f"{problem} (after {self.retry.max_attempts} attempts)"

    def _redact(self, text: str) -> str:
        url = self.config.webhook or ""
        return text.replace(url, "<alerts.webhook>") if url else text

    def _log_undelivered(self, run_id: str, problem: str) -> None:
        message = f"alert not delivered to alerts.webhook: {problem}"
        log.warning("run %s: %s", run_id, message)
        if not run_id:
            return
        store = self.store or StateStore(self.project.state_url())
        try:
            store.log(run_id, "warning", message)
        except Exception:  # the state store is down too: the process log has it
            log.exception("could not write to the log of run %s", run_id)
        finally:
            if store is not self.store:
                store.close()


def _short(text: Any) -> str:
    s = " ".join(str(text).split())
    return s if len(s) <= MAX_TEXT else s[: MAX_TEXT - 1] + "…"


def _esc(text: str, limit: int | None = None) -> str:
    """Slack mrkdwn: &, < and > are control characters (``<!channel>``, ``<url|label>``).
    ``limit``: at most that many characters, never cutting an entity in half."""
    out = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if limit is not None and len(out) > limit:
        out = _PARTIAL_ENTITY.sub("", out[:limit])
    return out


_PARTIAL_ENTITY = re.compile(r"&[a-z]{0,3}$")


def _where(where: WhereRecord) -> str:
    parts = []
    if where.get("file"):
        parts.append(str(where["file"]) + (f":{where['line']}" if where.get("line") else ""))
    if where.get("key"):
        parts.append(f"key {where['key']}")
    if where.get("column"):
        parts.append(f"column {where['column']!r}")
    return ", ".join(parts)


__all__ = ["Alerter", "alert_reason", "as_report"]
