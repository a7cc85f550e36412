# StreamForge — build, run and test. `make run` starts bulker on the embedded
# defaults; `make test` starts the servers the tests need, then tests.
GO      ?= go
BIN     ?= bin
PROGRAMS = bulker dummy-service debug-producer broker

.PHONY: all build run test test-services check vet fmt-check bench bench-quick clean

all: build

build:
	@mkdir -p $(BIN)
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/ $(addprefix ./cmd/,$(PROGRAMS))

run: build
	$(BIN)/bulker

test-services:
	bash scripts/test-services.sh

check: vet fmt-check

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

test: test-services check
	$(GO) test -race -count=1 -timeout 30m ./...

# Benchmarks start what they need (broker, bulker, dummy-service) and use the
# PostgreSQL on 127.0.0.1:5432; they print a table and a RESULT line.
bench: test-services
	$(GO) run ./cmd/bench

bench-quick: test-services
	$(GO) run ./cmd/bench -quick

clean:
	rm -rf $(BIN)
