# Counterflow — the two commands of the README are `make demo` and `make test`.
SHELL := /bin/bash
LOCAL := deploy/local
PY := .venv/bin/python

.PHONY: demo test up down status deps bench topics clean-state contract screenshots

## demo: the main job: start the platform and replay a real bank's day through it
demo: deps
	@$(LOCAL)/demo.sh $(ARGS)

## test: every test against real Kafka, PostgreSQL and Redis (started here when not running)
test:
	@$(LOCAL)/test.sh $(ARGS)

## deps: install the Python environment from uv.lock
deps:
	@$(LOCAL)/bootstrap.sh

## up: start infrastructure and the four services in the background, print their URLs
up: deps
	@$(LOCAL)/infra.sh start
	@$(LOCAL)/services.sh start

## down: stop the services and the infrastructure
down:
	@$(LOCAL)/services.sh stop
	@$(LOCAL)/infra.sh stop

## status: what runs
status:
	@$(LOCAL)/infra.sh status
	@$(LOCAL)/services.sh status

## screenshots: photograph every page into docs/screenshots (the browser tour of tests/browser/test_screens.py)
screenshots:
	@CF_SCREENSHOTS_DIR=$(CURDIR)/docs/screenshots $(LOCAL)/test.sh tests/browser/test_screens.py $(ARGS)

## bench: every benchmark; one JSON file per benchmark under bench/results/
bench: deps
	@$(LOCAL)/bench.sh $(ARGS)

## contract: regenerate the contracts from the code: events (docs/events/asyncapi.json), HTTP (docs/api/*.openapi.json)
contract: deps
	@$(PY) -m counterflow_shared.events.contract > docs/events/asyncapi.json
	@$(PY) -m counterflow_shared.openapi docs/api >/dev/null

help:
	@grep -E '^## ' Makefile | sed 's/^## /  /'
