# tally's two commands are `make demo` (the main job) and `make test` (what CI runs
# through .ci/run). Both find PostgreSQL themselves: $DATABASE_URL, else the server
# on 127.0.0.1:5432, else a throwaway cluster in ./.pgdata (see db/localpg).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
GO ?= go
SQLC := $(GO) tool -modfile=tools/go.mod sqlc
OAPI_CODEGEN := $(GO) tool -modfile=tools/go.mod oapi-codegen -config client/oapi-codegen.yaml
BIN := bin/tally
# Resolved lazily, once per make run, only by the targets that need a database.
DB_URL = $(or $(DATABASE_URL),$(shell $(GO) run ./cmd/tally db url))

.PHONY: all build test check fmt vet sqlc-check client-check api-check generate unit browser demo bench bench-ledger fuzz clean db-stop

all: build

## build: bin/tally, the one binary; it says how to put it on the PATH.
build:
	$(GO) build -o $(BIN) ./cmd/tally
	@echo "built $(BIN); put it on the PATH with: export PATH=\"$(CURDIR)/bin:\$$PATH\""

## test: every check CI makes (gofmt, go vet, sqlc staleness, the API document) and the
## whole test suite with the race detector against real PostgreSQL.
test: check api-check browser unit

## browser: the console's browser tests (e2e/console_*) drive headless Chromium;
## install Debian's chromium when it is missing and apt-get can (they skip without it).
browser:
	@if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing chromium for the console's browser tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  { $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium; } || \
	    echo "warning: chromium could not be installed: the console's browser tests will be skipped"; \
	fi

check: fmt vet sqlc-check client-check

## api-check: server/openapi.json lints clean under Redocly's recommended-strict ruleset,
## and a TypeScript client generated from it (openapi-typescript) types every success
## body (tsc). Tool versions are pinned in tools/api/package-lock.json; node and npm
## come from Debian's packages when missing.
api-check:
	@if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then \
	  echo "installing node and npm for api-check"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq nodejs npm; \
	fi
	@cd tools/api && if [ ! node_modules/.package-lock.json -nt package-lock.json ]; then \
	  npm ci --no-audit --no-fund --loglevel=error; fi
	cd tools/api && npm run --silent check

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^tools/') $$(git ls-files --others --exclude-standard '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

sqlc-check:
	$(SQLC) diff

## client-check: client/client.gen.go is what oapi-codegen makes of server/openapi.json.
client-check:
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	$(OAPI_CODEGEN) -o "$$tmp/client.gen.go" server/openapi.json; \
	if ! diff -u client/client.gen.go "$$tmp/client.gen.go" >"$$tmp/diff"; then \
	  head -40 "$$tmp/diff"; echo "client/client.gen.go is stale: run make generate"; exit 1; fi

generate:
	$(SQLC) generate
	$(OAPI_CODEGEN) -o client/client.gen.go server/openapi.json

unit:
	DATABASE_URL='$(DB_URL)' $(GO) test -race -count=1 -timeout 20m ./...

## demo: the one-command tour (see README). tally finds (or starts, and then
## stops) PostgreSQL itself. It ends by printing the console's address and the
## demo logins; demo-serve keeps the console up on the demo's data until Ctrl-C.
demo: build
	./$(BIN) demo

## demo-serve: the demo, then tally and its console stay up on the demo's data until Ctrl-C.
demo-serve: build
	./$(BIN) demo --serve

## bench: the performance figures reported in issue notes.
bench: build
	DATABASE_URL='$(DB_URL)' ./$(BIN) bench ledger
	DATABASE_URL='$(DB_URL)' ./$(BIN) bench callbacks
	DATABASE_URL='$(DB_URL)' ./$(BIN) bench recon --orders 100000,300000,1000000

fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime 20s $$pkg; \
	  done; \
	done

db-stop:
	$(GO) run ./cmd/tally db stop

clean:
	rm -rf bin out
