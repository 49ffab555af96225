"""An alert quotes the run, and the run quotes file names: escaped for Slack (issue 13).

A file dropped as ``<!channel> <http:evil.example|click here>.csv`` is named in the
error of a run that finds no file it can read; the alert that a real webhook on
loopback receives must show it as text, with no ``<`` Slack would read as a mention or
a disguised link, in ``text`` and in every block.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sluice.config import Retry, load_project
from sluice.engine import run_pipeline
from sluice.service.runtime.alerts import Alerter
from sluice.testing import Capture

EVIL = "<!channel> <http:evil.example|click here>.csv"

PROJECT = """\
    alerts:
      webhook: ${ALERT_HOOK}
      base_url: https://sluice.example.org/
    pipelines:
      p:
        sources:
          s: {path: "drop/*.jsonl", min_files: 1}
        table: {name: t, columns: {a: string}}
"""


def texts(node: Any) -> Iterator[str]:
    """Every ``text`` string of a Slack message, however deep in its blocks."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "text" and isinstance(value, str):
                yield value
            else:
                yield from texts(value)
    elif isinstance(node, list):
        for value in node:
            yield from texts(value)


def test_a_file_name_in_an_alert_cannot_mention_a_channel_or_disguise_a_link(
    capture: Capture,
    unset_urls: None,
    make_project: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ALERT_HOOK", f"{capture.url}/hook")
    root = make_project(PROJECT, {f"drop/{EVIL}": "a\nx\n"})
    project = load_project(root)
    report = run_pipeline(project, "p")
    assert report.status == "failed"
    assert EVIL in report.errors[0]["message"]  # the run names the file as it is
    assert Alerter(project, retry=Retry(max_attempts=2, backoff=0.01)).after_run(report)
    (message,) = capture.received
    escaped = "&lt;!channel&gt; &lt;http:evil.example|click here&gt;.csv"
    assert escaped in message["text"]
    assert any(escaped in t for t in texts(message["blocks"]))
    link = f"<https://sluice.example.org/runs/{report.run_id}|Open run {report.run_id}>"
    for text in [message["text"], *texts(message["blocks"])]:
        # the only < > left are the run's own link
        assert "<" not in text.replace(link, "") and ">" not in text.replace(link, ""), text
