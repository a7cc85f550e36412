# StreamForge — build, run and test. `make run` starts bulker on the embedded
# defaults; `make test` starts the servers the tests need, then tests.
GO      ?= go
BIN     ?= bin
PROGRAMS = bulker dummy-service debug-producer broker healthcheck
# Programs with an image (targets of the Dockerfile); bench needs the Go
# toolchain and the source tree at run time, so it has none.
IMAGES   = bulker dummy-service debug-producer broker

# The build's version and commit, printed by --version and exported as
# <program>_build_info; outside a git checkout they stay dev / unknown.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
BUILDINFO = github.com/streamforge/streamforge/internal/buildinfo
LDFLAGS   = -X $(BUILDINFO).Version=$(VERSION) -X $(BUILDINFO).Commit=$(COMMIT)

.PHONY: all build images run test test-services bench-tools check vet fmt-check bench bench-quick clean

all: build

build:
	@mkdir -p $(BIN)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ $(addprefix ./cmd/,$(PROGRAMS))

# One image per program, streamforge/<program>:$(VERSION); needs Docker.
images:
	for p in $(IMAGES); do \
		docker build --target $$p --build-arg VERSION=$(VERSION) --build-arg COMMIT=$(COMMIT) -t streamforge/$$p:$(VERSION) . || exit 1; \
	done

run: build
	$(BIN)/bulker

test-services:
	bash scripts/test-services.sh

check: vet fmt-check

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# STREAMFORGE_REQUIRE_BROWSER: the console's browser test fails, instead of
# skipping, when chromium is missing.
test: test-services check
	STREAMFORGE_REQUIRE_BROWSER=1 $(GO) test -race -count=1 -timeout 30m ./...

# Benchmarks start what they need (broker, bulker, dummy-service) and use the
# PostgreSQL on 127.0.0.1:5432; they print a table and a RESULT line.
# bench-tools installs wrk, the second load generator of the ingest rounds.
bench-tools:
	bash scripts/bench-tools.sh

bench: test-services bench-tools
	$(GO) run ./cmd/bench

bench-quick: test-services bench-tools
	$(GO) run ./cmd/bench -quick

clean:
	rm -rf $(BIN)
