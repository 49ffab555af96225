"""The ``http`` source: REST JSON APIs with pagination, fan-out, retries and rate limits."""

from sluice.sources.http.reader import HttpReader
from sluice.sources.http.source import HttpSource, HttpUnit

__all__ = ["HttpReader", "HttpSource", "HttpUnit"]
