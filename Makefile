# deskmail — common tasks. `make test` is what CI runs.
GO ?= go
BIN ?= bin/deskmail

.PHONY: all build test vet fmt-check staticcheck run bench fuzz clean

all: build

build:
	$(GO) build -buildvcs=auto -o $(BIN) ./cmd/deskmail

# vet, format check, staticcheck, then every test (fuzz seed corpora included) under the race detector,
# then the whole-system suite a second time on PostgreSQL (DESKMAIL_TEST_STORE=postgres).
test: vet fmt-check staticcheck
	$(GO) test -race -count=1 ./...
	DESKMAIL_TEST_STORE=postgres $(GO) test -race -count=1 -timeout 40m ./e2e/

vet:
	$(GO) vet ./...

# staticcheck (honnef.co/go/tools), the version .ci/run installs:
#   go install honnef.co/go/tools/cmd/staticcheck@v0.8.2
# Without it on PATH (a fresh machine with only Go), the same version runs
# through `go run`, so `make test` needs nothing but Go.
STATICCHECK_VERSION ?= v0.8.2
STATICCHECK ?= $(shell command -v staticcheck 2>/dev/null || echo "$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)")
staticcheck:
	$(STATICCHECK) ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# The daemon on embedded defaults: SMTP 127.0.0.1:2525, HTTP 127.0.0.1:8025, data in ./deskmail-data.
run:
	$(GO) run ./cmd/deskmail serve

# Micro-benchmarks; the loopback load test is `deskmail bench smtp` (see docs/PERFORMANCE.md).
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# A short run of every fuzz target, found with `go test -list` in every
# package (scripts/fuzz-all.sh), one after the other as go test requires.
FUZZTIME ?= 30s
fuzz:
	FUZZTIME=$(FUZZTIME) GO=$(GO) scripts/fuzz-all.sh

clean:
	rm -rf bin
