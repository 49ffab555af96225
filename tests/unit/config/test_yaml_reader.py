"""The project file is parsed by libyaml when PyYAML has it, and by the pure-Python
parser when libyaml rejects it: the data, the lines and the error messages are those of
``yaml.safe_load``'s parser either way."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from sluice.config import loader
from sluice.errors import ProjectInvalid

EXAMPLES = sorted((Path(__file__).parents[3] / "examples").glob("*/sluice.yaml"))
#: anchors, merge keys, flow and block styles, tags, multi-line and quoted scalars
TRICKY = """\
defaults: &d {type: file, csv: {delimiter: ";"}}
pipelines:
  a:
    sources:
      s1:
        <<: *d
        path: "data/*.csv"
      s2: !!map
        <<: *d
        path: 'it''s/*.csv'
    description: >
      folded
      text
    notes: |
      literal
    numbers: [1, 0x1f, 1.5e3, .inf, ~, yes, 2026-01-02]
"""


def _python_read(text: str) -> tuple[Any, dict[tuple[Any, ...], int]]:
    lines: dict[tuple[Any, ...], int] = {}
    return loader._read_with(yaml.SafeLoader, text, lines), lines


@pytest.mark.skipif(loader._FAST_LOADER is None, reason="PyYAML without libyaml")
@pytest.mark.parametrize(
    "text", [*(p.read_text(encoding="utf-8") for p in EXAMPLES), TRICKY], ids=lambda t: t[:20]
)
def test_libyaml_reads_the_same_data_and_lines(text: str) -> None:
    lines: dict[tuple[Any, ...], int] = {}
    assert loader._read_yaml(text, lines) == _python_read(text)[0]
    assert lines == _python_read(text)[1]


@pytest.mark.parametrize(
    "text",
    ["a: [1, 2\nb: 3\n", "a: b: c\n", "a:\n  - 1\n - 2\n", "a: *nowhere\n", "a: !!map x\n"],
)
def test_a_bad_file_reports_the_pure_python_parser_s_error(text: str) -> None:
    with pytest.raises(yaml.YAMLError) as expected:
        _python_read(text)
    with pytest.raises(ProjectInvalid) as got:
        loader.parse_project(text)
    problem = got.value.problems[0]
    assert problem.message == f"not valid YAML: {getattr(expected.value, 'problem', None)}"
    mark = getattr(expected.value, "problem_mark", None)
    assert problem.where.line == (mark.line + 1 if mark else None)
