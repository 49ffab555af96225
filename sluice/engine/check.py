"""Checks that need more than the file's own structure: SQL expressions compile, sources
point at something, URLs name a database sluice supports."""

from __future__ import annotations

from sluice.config import Project
from sluice.dburl import normalize
from sluice.errors import ConfigProblem, ProjectInvalid, SluiceError, Where
from sluice.transforms import StepRunner


def check_project(project: Project) -> None:
    """Raise :class:`ProjectInvalid` listing every problem found."""
    problems: list[ConfigProblem] = []
    file = str(project.file) if project.file else None

    def add(exc: SluiceError, key: str) -> None:
        full = f"{key}.{exc.where.key}" if exc.where.key else key
        message = exc.message + (f" ({exc.hint})" if exc.hint else "")
        problems.append(
            ConfigProblem(message, Where(file=file, line=project.line_of(full), key=full))
        )

    for url, key in ((project.warehouse_url(), "warehouse"), (project.state_url(), "state")):
        try:
            normalize(url)
        except SluiceError as exc:
            add(exc, key)
    for name, pipe in project.pipelines.items():
        key = f"pipelines.{name}"
        try:
            StepRunner(pipe, list(pipe.table.columns))
        except SluiceError as exc:
            add(exc, key)
        if pipe.destination.url and pipe.destination.type == "sql":
            try:
                normalize(pipe.destination.url)
            except SluiceError as exc:
                add(exc, f"{key}.destination.url")
    if problems:
        raise ProjectInvalid(problems, hint="fix these, then run `sluice validate` again")
