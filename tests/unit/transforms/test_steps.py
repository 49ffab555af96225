"""Declarative steps: trim, case, cast, derive (SQL), filter (per rule), dedupe."""

from __future__ import annotations

import textwrap

import polars as pl
import pytest

from sluice.batch import LINE
from sluice.config import parse_project
from sluice.errors import TransformError
from sluice.transforms import StepRunner
from sluice.transforms import steps as steps_module

TABLE = """\
    table:
      name: t
      columns:
        id: {type: integer, required: true}
        name: {type: string, required: true}
        state: string
        label: string
"""


def pipeline_yaml(steps: str, extra: str = "") -> str:
    steps = textwrap.indent(textwrap.dedent(steps).strip(), "      ")
    head = "pipelines:\n  p:\n    sources:\n      s:\n        type: file\n"
    head += "        path: data/*.csv\n" + extra
    return head + "    transforms:\n" + steps + "\n" + TABLE


def runner(steps: str) -> StepRunner:
    project = parse_project(pipeline_yaml(steps))
    pipe = project.pipeline("p")
    return StepRunner(pipe, list(pipe.table.columns))


def frame(**cols: list[object]) -> pl.DataFrame:
    n = len(next(iter(cols.values())))
    data = {k: pl.Series(k, v, dtype=pl.String) for k, v in cols.items()}
    return pl.DataFrame({**data, LINE: list(range(2, n + 2))})


def test_pipeline_yaml_helper_is_valid() -> None:
    project = parse_project(pipeline_yaml("- trim: all"))
    assert list(project.pipeline("p").table.columns) == ["id", "name", "state", "label"]


def test_trim_all_strips_and_turns_blank_into_null() -> None:
    r = runner("- trim: all")
    out = r.run(
        frame(id=[" 1 ", "2"], name=["  Ada\t", "   "], state=["ca ", None], label=["x", ""])
    )
    assert out.select("id", "name", "state").rows() == [("1", "Ada", "ca"), ("2", None, None)]


def test_trim_listed_columns_only() -> None:
    r = runner("- trim: [name]")
    out = r.run(frame(id=[" 1 "], name=[" Ada "], state=[" ca "], label=["x"]))
    assert out.select("id", "name", "state").rows() == [(" 1 ", "Ada", " ca ")]


def test_trim_leaves_alone_only_the_columns_the_reader_found_trimmed() -> None:
    data = frame(id=["1"], name=[" Ada "], state=[" ca "], label=["x"])
    # The reader's word is taken (so a wrong word shows), for every trim step first.
    for steps in ("- trim: all", "- trim: [name, state]", "- trim: all\n- trim: [state]"):
        out = runner(steps).run_lazy(data, frozenset({"state"})).collect()
        assert out.select("name", "state").rows() == [("Ada", " ca ")], steps
        everything = runner(steps).run_lazy(data, frozenset({"id", "name", "state", "label"}))
        assert everything.collect().select("name", "state").rows() == [(" Ada ", " ca ")]
    # A step before the trim may change values: then every column is trimmed.
    r = runner("- derive: {column: state, sql: \"concat(' ', state)\"}\n- trim: all")
    out = r.run_lazy(data, frozenset({"state", "name"})).collect()
    assert out.select("name", "state").rows() == [("Ada", "ca")]


@pytest.mark.parametrize(
    ("to", "expected"), [("upper", "NEW YORK"), ("lower", "new york"), ("title", "New York")]
)
def test_case(to: str, expected: str) -> None:
    r = runner(f"- case: {{columns: [state, label], to: {to}}}")
    out = r.run(frame(id=["1"], name=["aDa"], state=["nEw yORK"], label=["new YORK"]))
    assert out.select("name", "state", "label").row(0) == ("aDa", expected, expected)


def test_cast_step_adds_a_reason_instead_of_nulling() -> None:
    r = runner("- cast: {column: id, to: integer}")
    out = r.run(
        frame(
            id=["1", "xy", None, "1,200"],
            name=["a", "b", "c", "d"],
            state=[None] * 4,
            label=[None] * 4,
        )
    )
    assert out.get_column("id").to_list() == [1, None, None, 1200]
    assert out.get_column("_reasons").to_list() == [[], ["id: 'xy' is not a valid integer"], [], []]


def test_derive_with_sql() -> None:
    r = runner("""
        - derive: {column: label, sql: "upper(name) || '-' || coalesce(state, '??')"}
        - derive: {column: state, sql: "replace(state, ' ', '_')"}
    """)
    out = r.run(
        frame(id=["1", "2"], name=["ada", "bob"], state=["new york", None], label=[None, None])
    )
    assert out.select("label", "state").rows() == [("ADA-new york", "new_york"), ("BOB-??", None)]


def test_filter_counts_per_rule_name() -> None:
    r = runner("""
        - filter: {name: no tests, keep: "NOT (lower(name) LIKE 'test%')"}
        - filter: {keep: "state IS NULL OR state <> 'XX'"}
    """)
    out = r.run(
        frame(
            id=["1", "2", "3", "4", "5"],
            name=["Ada", "test one", "TEST two", None, "Bob"],
            state=["CA", "CA", None, "XX", "XX"],
            label=[None] * 5,
        )
    )
    # A null condition is not true: the row with no name is filtered too.
    assert out.get_column("id").to_list() == ["1"]
    assert r.filtered == {"no tests": 3, "filter: state IS NULL OR state <> 'XX'": 1}


def test_dedupe_keep_first_within_and_across_batches() -> None:
    r = runner("- dedupe: {keys: [id, state]}")
    first = r.run(
        frame(
            id=["1", "1", "2", "1"],
            name=["a", "b", "c", "d"],
            state=["CA", "CA", "CA", "NY"],
            label=[None] * 4,
        )
    )
    second = r.run(
        frame(id=["2", "3", "1"], name=["e", "f", "g"], state=["CA", "CA", "NY"], label=[None] * 3)
    )
    assert first.get_column("name").to_list() == ["a", "c", "d"]
    assert second.get_column("name").to_list() == ["f"]
    assert r.filtered == {"dedupe: id, state": 3}


def test_blank_rows_are_counted_by_rule() -> None:
    r = runner("- trim: all")
    data = frame(
        id=["1", None, None],
        name=["a", None, "b"],
        state=[None, None, None],
        label=[None, None, None],
    )
    kept = r.drop_blank(data, ["id", "name", "state", "label"])
    assert kept.get_column(LINE).to_list() == [2, 4]
    assert r.filtered == {"blank_row": 1}


def test_step_on_unknown_column_fails_at_compile_time() -> None:
    with pytest.raises(TransformError) as info:
        runner("- case: {columns: [nope], to: upper}")
    assert info.value.where.key == "transforms.0.case"
    assert "nope" in info.value.message


def test_bad_sql_fails_at_compile_time() -> None:
    with pytest.raises(TransformError) as info:
        runner('- derive: {column: label, sql: "upper(name"}')
    assert info.value.where.key == "transforms.0.derive.sql"


def test_the_check_runs_once_per_steps_and_columns_and_a_failure_every_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A run opens a runner per file: the check on an empty frame (Polars, ~20 ms) is
    made once for the same steps and columns, again for other columns or steps, and a
    check that failed fails again (it is not remembered)."""
    checks: list[list[str]] = []
    real = StepRunner._check_on_empty

    def counted(self: StepRunner) -> None:
        checks.append(list(self.columns))
        real(self)

    monkeypatch.setattr(StepRunner, "_check_on_empty", counted)
    monkeypatch.setattr(steps_module, "_CHECKED", {})  # what earlier tests checked
    steps = "- case: {columns: [state], to: upper}\n- dedupe: {keys: [id]}"
    pipe = parse_project(pipeline_yaml(steps)).pipeline("p")
    columns = list(pipe.table.columns)
    first = StepRunner(pipe, columns)
    StepRunner(pipe, columns)
    assert len(checks) == 1
    StepRunner(pipe, [*columns, "extra"])
    other = parse_project(pipeline_yaml("- case: {columns: [state], to: lower}")).pipeline("p")
    StepRunner(other, columns)
    assert len(checks) == 3
    # Each runner still has its own state: dedupe's seen keys are not shared.
    data = frame(id=["1"], name=["a"], state=["ca"], label=["x"])
    assert first.run(data).height == 1 and StepRunner(pipe, columns).run(data).height == 1
    for _ in range(2):
        with pytest.raises(TransformError):
            runner("- case: {columns: [nope], to: upper}")
    assert len(checks) == 5


# --------------------------------------------------------------------------- full runs

RUN_STEPS = """
- trim: all
- case: {columns: [state], to: upper}
- derive: {column: label, sql: "name || ' (' || state || ')'"}
- filter: {name: test records, keep: "name IS NULL OR NOT (lower(name) LIKE 'test%')"}
- filter: {name: west only, keep: "state IN ('CA', 'OR', 'WA')"}
- dedupe: {keys: [id]}
"""


def test_run_steps_and_filtered_counts(make_project, run_project) -> None:
    content = (
        "id,name,state,label\n"
        "1,  Ada ,ca,\n"
        "2,Test Corp,ca,\n"
        "3,Bob,ny,\n"
        "1,Ada again,wa,\n"
        "4,  ,or,\n"  # blank name after trim: required fails -> quarantined
        ",,,\n"
        "5,Eve,Or,\n"
    )
    root = make_project(pipeline_yaml(RUN_STEPS), {"data/a.csv": content})
    out = run_project(root)
    c = out.counts("s")
    assert c.filtered_by == {"blank_row": 1, "test records": 1, "west only": 1, "dedupe: id": 1}
    assert (c.read, c.loaded, c.quarantined, c.filtered) == (7, 2, 1, 4)
    assert out.rows() == [
        {"id": 1, "name": "Ada", "state": "CA", "label": "Ada (CA)"},
        {"id": 5, "name": "Eve", "state": "OR", "label": "Eve (OR)"},
    ]
    (entry,) = out.quarantine("row")
    assert (entry.line, entry.reasons) == (6, ["name: required but empty"])
    assert out.report.as_dict()["totals"]["filtered_by"] == c.filtered_by


def test_run_dedupe_across_batches(make_project, run_project) -> None:
    n = 3000
    rows = [f"{i},name {i:05d} {'x' * 20},CA," for i in range(n)]
    dups = [f"{i},dup {i},CA," for i in range(0, n, 100)]  # 30 repeats, far from the first
    content = "id,name,state,label\n" + "\n".join(rows + dups) + "\n"
    assert len(content) > 20 * 4096
    extra = "        batch_bytes: 4096\n"
    root = make_project(pipeline_yaml("- dedupe: {keys: [id]}", extra), {"data/a.csv": content})
    out = run_project(root)
    c = out.counts("s")
    assert (c.read, c.loaded, c.quarantined, c.filtered) == (n + 30, n, 0, 30)
    assert c.filtered_by == {"dedupe: id": 30}
    loaded = out.rows()
    assert len(loaded) == n
    assert not any(r["name"].startswith("dup") for r in loaded)
    assert len({r["id"] for r in loaded}) == n


def test_a_finished_runner_is_freed_without_the_cycle_collector() -> None:
    """Its steps hold their counts, not the runner: once a unit is done its runner and
    the keys dedupe saw go at once, not at the collector's next full pass."""
    import gc
    import weakref

    r = runner("- trim: all\n- filter: {keep: \"state <> 'x'\"}\n- dedupe: {keys: [id]}")
    r.run(
        frame(id=["1", "1", "2"], name=["a", "b", "c"], state=["ca", "ca", "x"], label=["", "", ""])
    )
    assert r.filtered == {"filter: state <> 'x'": 1, "dedupe: id": 1}
    gone = weakref.ref(r)
    was = gc.isenabled()
    gc.disable()
    try:
        del r
        assert gone() is None
    finally:
        if was:
            gc.enable()
