"""The ``http`` source: REST JSON APIs with pagination, fan-out, retries and rate limits."""

from sluice.sources.http.source import HttpReader, HttpSource, HttpUnit

__all__ = ["HttpReader", "HttpSource", "HttpUnit"]
