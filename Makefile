# The two commands: `make demo` (set up and run the leads example) and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
SLUICE  = $(VENV)/bin/sluice
LEADS   = examples/leads
USERS   = examples/users_staging
USERS_PORT ?= 8002
ANIMALS = examples/animals
RANDOMUSER = examples/randomuser
ANIMALS_PORT ?= 8001
EVENTS  = examples/events
EVENTS_PORT ?= 8003
# Wait until a simulator answers (it starts in the background).
WAIT_FOR = $(PY) -c "import sys, time, httpx; \
  [time.sleep(0.1) for _ in range(100) if not httpx.get(sys.argv[1]).is_success]"

.PHONY: demo test lint docs bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[all,dev]"  # sluice-etl with every extra, and the test tools
	touch $@

# The docs extra (mkdocs-material, mkdocstrings): `make docs`, and test_docs' strict build.
$(VENV)/.docs-installed: $(VENV)/.installed pyproject.toml
	$(PY) -m pip install -q -e ".[docs]"
	touch $@

## demo: create .venv, install sluice-etl with every extra ([all]: the demo starts the
## simulators, which are the serve extra), run the examples into SQLite from scratch
demo: $(VENV)/.installed
	rm -rf $(LEADS)/.sluice $(LEADS)/leads.db
	$(SLUICE) run leads --project $(LEADS) || test $$? -eq 3
	$(SLUICE) quarantine list --project $(LEADS) --limit 20
	$(SLUICE) preview leads --project $(LEADS) --limit 2
	rm -rf $(USERS)/.sluice $(USERS)/users.db $(RANDOMUSER)/.sluice $(RANDOMUSER)/randomuser.db
	@# users_staging and randomuser pull from the randomuser simulator, started here.
	@$(SLUICE) sim randomuser --port $(USERS_PORT) --rate-limit 5 & pid=$$!; \
	trap "kill $$pid 2>/dev/null" EXIT; \
	$(WAIT_FOR) http://127.0.0.1:$(USERS_PORT)/_sim/stats 2>/dev/null || sleep 2; \
	export USERS_API=http://127.0.0.1:$(USERS_PORT) RANDOMUSER_API=http://127.0.0.1:$(USERS_PORT); \
	$(SLUICE) run users_staging --project $(USERS) && \
	$(SLUICE) preview users_staging --project $(USERS) --limit 1 && \
	$(SLUICE) run randomuser --project $(RANDOMUSER) && \
	$(SLUICE) preview randomuser --project $(RANDOMUSER) --limit 2
	rm -rf $(ANIMALS)/.sluice
	@# animals: the flaky API with its default chaos (5% pauses of 5-15 s, 10% 5xx).
	@$(SLUICE) sim animals --port $(ANIMALS_PORT) & pid=$$!; \
	trap "kill $$pid 2>/dev/null" EXIT; \
	$(WAIT_FOR) http://127.0.0.1:$(ANIMALS_PORT)/_sim/stats 2>/dev/null || sleep 2; \
	export ANIMALS_API=http://127.0.0.1:$(ANIMALS_PORT); \
	$(SLUICE) run animals --project $(ANIMALS) && \
	$(SLUICE) audit $$($(SLUICE) runs --project $(ANIMALS) --limit 1 --json \
	  | $(PY) -c "import json, sys; print(json.load(sys.stdin)[0]['run_id'])") \
	  --project $(ANIMALS)
	rm -rf $(EVENTS)/.sluice $(EVENTS)/events.db
	@# events: a zip of storm events downloaded, unzipped in place, merged (exit 3: quarantine).
	@$(SLUICE) sim events --port $(EVENTS_PORT) & pid=$$!; \
	trap "kill $$pid 2>/dev/null" EXIT; \
	$(WAIT_FOR) http://127.0.0.1:$(EVENTS_PORT)/_sim/stats 2>/dev/null || sleep 2; \
	export EVENTS_API=http://127.0.0.1:$(EVENTS_PORT); \
	{ $(SLUICE) run events --project $(EVENTS) || test $$? -eq 3; } && \
	$(SLUICE) preview events --project $(EVENTS) --limit 2

## test: install every extra, the dev tools and the docs extra ([all,dev] and [docs], for
## test_docs' strict build of the site), then ruff, mypy and pytest.
## Three workers on two cores:
## tests that wait on subprocesses, servers and browsers leave a core idle a quarter of
## the time with two (218 s), not with three (182 s); worksteal evens out the slow tail.
## Bytecode is cached even where PYTHONDONTWRITEBYTECODE is set, and compiled once
## before the workers start: each worker and fork server compiling every module again
## cost 3 s of CPU apiece. The linters run beside pytest (their 12 s of one core fit
## in its waits); their output comes when both are done, and either failing fails.
test: $(VENV)/.installed $(VENV)/.docs-installed
	@$(MAKE) -s lint > .lint.out 2>&1 & linting=$$!; \
	env -u PYTHONDONTWRITEBYTECODE $(PY) -m compileall -q -j 2 sluice; \
	env -u PYTHONDONTWRITEBYTECODE $(VENV)/bin/pytest -q -n 3 --dist worksteal --durations=20; \
	tested=$$?; wait $$linting; linted=$$?; cat .lint.out; rm -f .lint.out; \
	[ $$tested -eq 0 ] && [ $$linted -eq 0 ]

## docs: the docs site (mkdocs.yml, docs/) into build/docs; --strict fails on any warning,
## a broken link or anchor included. The CLI, sluice.yaml, REST and error references are
## made from the code as it builds (docs/hooks.py).
docs: $(VENV)/.docs-installed
	$(VENV)/bin/mkdocs build --strict

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

## bench: 1,000,000 lead rows into PostgreSQL, SQLite, MariaDB and DuckDB, each against
## the database's own bulk load, a merge against an append, start-up (median of 3 runs);
## then 10,000 animals from the flaky, rate-limited API, against a sequential client;
## then 200,000 nested users normalized into six tables, against dlt and pandas;
## then 50 clients reading from `sluice serve` while it loads 1,000,000 rows;
## then a drop of 120 files on Celery against the local executor; then one table of
## every target (bench/summary.py), printed even when a benchmark failed (make fails then).
## bench: every benchmark, then the table of targets. The package is byte-compiled
## first, as an installed one is (an editable install compiles nothing, and where
## PYTHONDONTWRITEBYTECODE is set each run would compile the changed modules again).
bench: $(VENV)/.installed
	$(PY) -m pip install -q -e ".[bench]"
	env -u PYTHONDONTWRITEBYTECODE $(PY) -m compileall -q sluice
	@failed=""; \
	for step in "bench/run.py --repeat 3" bench/http/run.py "bench/normalize/run.py --repeat 3" \
	    bench/service/run.py bench/celery/run.py; do \
	  echo "$(PY) $$step"; $(PY) $$step || failed="$$failed $$step"; \
	done; \
	echo; $(PY) bench/summary.py; \
	if [ -n "$$failed" ]; then echo "failed:$$failed"; exit 1; fi

clean:
	rm -rf $(VENV) $(LEADS)/.sluice $(LEADS)/leads.db $(USERS)/.sluice $(USERS)/users.db \
	  $(ANIMALS)/.sluice $(RANDOMUSER)/.sluice $(RANDOMUSER)/randomuser.db \
	  $(EVENTS)/.sluice $(EVENTS)/events.db \
	  .pytest_cache .mypy_cache .ruff_cache
