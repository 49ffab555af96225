"""One verifying TLS context per process, shared by every HTTP client sluice makes.

httpx builds a new ``ssl.SSLContext`` for each client and loads the CA bundle into it,
about 20 ms of CPU each time: a run with an API source, a download and an alert paid
it three times, a service paid it per run. A context can serve any number of clients
and threads, so one is built per CA setting (``SSL_CERT_FILE`` / ``SSL_CERT_DIR``, read
as httpx reads them) and reused.
"""

from __future__ import annotations

import functools
import os
import ssl

import httpx


def verifying_context() -> ssl.SSLContext:
    """The context httpx would build with ``verify=True``, built once per CA setting."""
    return _context(os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))


@functools.lru_cache(maxsize=4)
def _context(cert_file: str | None, cert_dir: str | None) -> ssl.SSLContext:
    # The arguments are only the cache key: httpx reads the same variables itself.
    return httpx.create_ssl_context(verify=True, trust_env=True)
