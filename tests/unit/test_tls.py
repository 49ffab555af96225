"""The TLS context sluice's HTTP clients share (sluice.httpclient.tls)."""

from __future__ import annotations

from pathlib import Path

import certifi
import pytest

from sluice.httpclient.tls import verifying_context


def test_one_context_serves_every_client_and_verifies(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    ctx = verifying_context()
    assert verifying_context() is ctx
    assert ctx.check_hostname and ctx.verify_mode.name == "CERT_REQUIRED"
    assert ctx.cert_store_stats()["x509_ca"] > 100  # certifi's bundle, as httpx loads it


def test_ssl_cert_file_is_honoured_as_httpx_does(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bundle = Path(certifi.where()).read_text()
    end = "-----END CERTIFICATE-----"
    one = tmp_path / "one-ca.pem"
    one.write_text(bundle[bundle.index("-----BEGIN CERTIFICATE-----") : bundle.index(end)] + end)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    monkeypatch.setenv("SSL_CERT_FILE", str(one))
    ctx = verifying_context()
    assert ctx.cert_store_stats()["x509_ca"] == 1
    monkeypatch.delenv("SSL_CERT_FILE")
    assert verifying_context() is not ctx
