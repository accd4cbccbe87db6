# Storeloop: `make demo` runs the whole loop locally; `make test` runs the tests. See README.md.
SHELL := /bin/bash
PY := .venv/bin/python

.PHONY: help venv setup up down status demo run rollback test test-fast lint docs-serve clean

help:
	@echo "make demo     set up and run the whole nightly loop once on the local stack (leaves the UIs up)"
	@echo "make test     set up and run unit, integration and DAG tests (incl. an end-to-end run)"
	@echo "make setup    set up only (venv, .env, PostgreSQL, databases, Airflow DB, dbt manifest)"
	@echo "make up       start the services;  make down  stop them all;  make status"
	@echo "make run DAG=<dag_id> [CONF='<json>']   run one DAG once now through 'airflow dags test'"
	@echo "make rollback REASON='...' [TO=<version>] [ALIAS=for_you]  move @champion (or @for_you) back to the previous one, republish"

venv:
	@bash scripts/bootstrap.sh

setup: venv
	@$(PY) -m devstack setup

up: setup
	@$(PY) -m devstack up

down:
	@if [ -x $(PY) ]; then $(PY) -m devstack down; else echo "nothing to stop (no .venv)"; fi

status:
	@$(PY) -m devstack status

demo: setup
	@$(PY) -m devstack demo

run: setup
	@test -n "$(DAG)" || (echo "usage: make run DAG=<dag_id> [CONF='<json>']" >&2; exit 2)
	@$(PY) -m devstack run $(DAG) $(if $(CONF),--conf '$(CONF)',)

rollback: setup
	@test -n "$(REASON)" || (echo "usage: make rollback REASON='why' [TO=<version>]" >&2; exit 2)
	@eval "$$($(PY) -m devstack env)" && $(PY) -m storeloop.recsys.rollback --reason "$(REASON)" $(if $(TO),--to $(TO),) $(if $(ALIAS),--alias $(ALIAS),)
	@echo "▸ rescoring with the restored champion and republishing its lists (recommender_score, force: a rollback changes many lists at once)"
	@$(PY) -m devstack run recommender_score --conf '{"force": true}'

test: setup
	@$(PY) -m pytest tests -q

test-fast: setup
	@$(PY) -m pytest tests -q -m "not e2e"

lint: venv
	@.venv/bin/ruff check .

clean: down
	rm -rf .local dbt_project/target dbt_project/logs
