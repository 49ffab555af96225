"""Checks that need more than the file's own structure: SQL expressions compile, sources
point at something, URLs name a database sluice supports."""

from __future__ import annotations

from sluice.config import Project
from sluice.errors import ConfigError, ConfigProblem, ProjectInvalid, SluiceError, Where
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

    try:
        project.checked_warehouse_url()
    except ConfigError as exc:  # it names its variable and its place in the file
        problems.append(ConfigProblem(exc.message + f" ({exc.hint})", exc.where))
    try:
        project.state_url()
    except ConfigError as exc:  # it names its variable and its place in the file
        problems.append(ConfigProblem(exc.message + f" ({exc.hint})", exc.where))
    for name, pipe in project.pipelines.items():
        key = f"pipelines.{name}"
        try:
            StepRunner(pipe, list(pipe.table.columns))
        except SluiceError as exc:
            add(exc, key)
        if pipe.destination.url and pipe.destination.type == "sql":
            try:
                project.checked_warehouse_url(pipe)
            except ConfigError as exc:
                problems.append(ConfigProblem(exc.message + f" ({exc.hint})", exc.where))
    if problems:
        raise ProjectInvalid(problems, hint="fix these, then run `sluice validate` again")
