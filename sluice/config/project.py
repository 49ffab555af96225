"""The ``sluice.yaml`` model of a project, and where its databases are: the warehouse and
state store URLs, from the file or the environment, checked before anything opens them."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, PrivateAttr, field_validator

from sluice.config.base import Model
from sluice.config.destinations import DestinationConfig, HttpDestinationConfig
from sluice.config.pipeline import PipelineConfig
from sluice.durations import parse_duration
from sluice.errors import ConfigError, Where

DEFAULT_WAREHOUSE = "sqlite:///warehouse.db"
DEFAULT_STATE = "sqlite:///.sluice/state.db"


class AlertsConfig(Model):
    """Where ``sluice serve`` reports failed runs and runs with too much quarantine."""

    webhook: str | None = Field(
        default=None,
        description="a Slack-compatible incoming webhook URL: ${SLUICE_ALERT_WEBHOOK}",
    )
    quarantine_threshold: float = Field(
        default=0.05, ge=0, description="alert when more than this share of rows is quarantined"
    )
    base_url: str = Field(
        default="http://127.0.0.1:8000", description="the service's address, for run links"
    )


class Project(Model):
    """A sluice project: its pipelines, where their tables go and where runs are kept."""

    name: str = Field(default="sluice-project", description="a label")
    warehouse: str = Field(
        default=DEFAULT_WAREHOUSE,
        description="where tables go: sqlite:///file.db (relative to the project), "
        "postgresql://, mysql:// or duckdb:/// URL; SLUICE_WAREHOUSE_URL overrides it",
    )
    state: str = Field(
        default=DEFAULT_STATE,
        description="the state store (runs, logs, file ledger, quarantine): a SQLite or "
        "PostgreSQL URL; SLUICE_STATE_URL overrides it",
    )
    synonyms: dict[str, list[str]] = Field(
        default_factory=dict, description="target column -> header names, for every pipeline"
    )
    pipelines: dict[str, PipelineConfig] = Field(
        default_factory=dict, description="pipeline name -> pipeline"
    )
    pii_salt: str | None = Field(
        default=None, description="salt of pii: hash, from the environment: ${SLUICE_PII_SALT}"
    )
    alerts: AlertsConfig = Field(
        default_factory=lambda: AlertsConfig(),
        description="sluice serve: where failed runs and high quarantine are reported",
    )
    executor: Literal["local", "celery"] = Field(
        default="local",
        description="where runs go: in this process (local) or to `sluice worker`s (celery)",
    )
    retention: str | None = Field(
        default=None,
        description="sluice serve: prune what is older than this once a day (e.g. 30d): "
        "ended runs and their logs, closed quarantine entries and their dead-letter copies",
    )

    @field_validator("retention")
    @classmethod
    def _retention(cls, v: str | None) -> str | None:
        if v is not None:
            parse_duration(v)
        return v

    _root: Path = PrivateAttr(default=Path("."))
    _file: Path | None = PrivateAttr(default=None)
    _lines: dict[tuple[Any, ...], int] = PrivateAttr(default_factory=dict)
    #: dotted key -> the environment variables whose values it took (``${VAR}``)
    _env: dict[str, list[str]] = PrivateAttr(default_factory=dict)
    #: SLUICE_WAREHOUSE_URL / SLUICE_STATE_URL as the loader found them: the environment
    #: is read once, when the project is loaded, never later by a property
    _overrides: dict[str, str] = PrivateAttr(default_factory=dict)

    def line_of(self, key: str) -> int | None:
        """The line of a dotted key (``pipelines.leads.transforms.2``) in the file."""
        path = tuple(int(p) if p.isdigit() else p for p in key.split("."))
        while path and path not in self._lines:
            path = path[:-1]
        return self._lines.get(path)

    @property
    def root(self) -> Path:
        return self._root

    @property
    def file(self) -> Path | None:
        return self._file

    def pipeline(self, name: str) -> PipelineConfig:
        try:
            return self.pipelines[name]
        except KeyError:
            known = ", ".join(sorted(self.pipelines)) or "none"
            raise ConfigError(
                f"no pipeline named {name!r}",
                hint=f"pipelines in this project: {known}",
                where=Where(file=str(self._file) if self._file else None),
            ) from None

    def warehouse_url(self, pipeline: PipelineConfig | None = None) -> str:
        own = pipeline.destination.url if pipeline else None
        if pipeline is not None and isinstance(pipeline.destination, HttpDestinationConfig):
            own = None  # an http destination has no warehouse: the URL is the endpoint
        url = own or self._overrides.get("SLUICE_WAREHOUSE_URL")
        return self.resolve_url(url or self.warehouse)

    def destination_url(self, pipeline: PipelineConfig) -> str:
        """Where ``pipeline``'s rows go: its http destination's endpoint, else the
        warehouse URL. A run's report names it, redacted."""
        target = pipeline.destination
        return (
            target.url
            if isinstance(target, HttpDestinationConfig)
            else self.warehouse_url(pipeline)
        )

    def url_origin(self, pipeline: PipelineConfig | None = None) -> tuple[str | None, Where]:
        """Where :meth:`warehouse_url` took its value, for messages: the environment
        variable that set it (None: written in the file), and its key in the file."""
        key = "warehouse"
        for name, pipe in self.pipelines.items():
            dest = pipe.destination
            if pipe is pipeline and isinstance(dest, DestinationConfig) and dest.url:
                key = f"pipelines.{name}.destination.url"
        return self._origin(key, "SLUICE_WAREHOUSE_URL" if key == "warehouse" else None)

    def _origin(self, key: str, variable: str | None) -> tuple[str | None, Where]:
        used = self._env.get(key)
        direct = variable and self._overrides.get(variable)
        if direct and variable not in (used or []):  # the variable wins over the key
            return variable, Where()
        file = str(self._file) if self._file else None
        return (used[-1] if used else None), Where(file=file, line=self.line_of(key), key=key)

    def checked_warehouse_url(self, pipeline: PipelineConfig | None = None) -> str:
        """:meth:`warehouse_url`, or a :class:`ConfigError` naming where a URL that is
        not a database URL came from (its password masked)."""
        return _checked(self.warehouse_url(pipeline), *self.url_origin(pipeline))

    def state_url(self) -> str:
        """The state store's URL; a malformed one is a :class:`ConfigError` naming where
        it came from (SLUICE_STATE_URL or `state:`), checked before anything opens it."""
        url = self.resolve_url(self._overrides.get("SLUICE_STATE_URL") or self.state)
        return _checked(url, *self._origin("state", "SLUICE_STATE_URL"))

    def resolve_url(self, url: str) -> str:
        """SQLite paths in URLs are relative to the project folder, not the cwd."""
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
            return prefix + str((self._root / url[len(prefix) :]).resolve())
        return url


def _checked(url: str, variable: str | None, where: Where) -> str:
    from sluice.dburl import EXAMPLES, check

    try:
        check(url, label=variable, where=where)
    except ConfigError as exc:
        fix = f"set {variable} to" if variable else f"write at `{where.key}:`"
        exc.hint = f"{fix} a URL such as {EXAMPLES}, then run `sluice validate`"
        raise
    return url
