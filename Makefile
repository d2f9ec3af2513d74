# The two commands a newcomer needs: `make demo` and `make test`.
GO      ?= go
BIN     := bin/sluice
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/sluicehq/sluice/gate.Version=$(VERSION)
FUZZTIME ?= 10s

.PHONY: chaos image all build test test-race test-browser alerts bench bench-smoke fuzz lint demo clean

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/sluice

# Unit, integration (in-process kfake) and allocation tests.
test:
	$(GO) vet ./...
	$(GO) test -count=1 ./...

# The browser tests need chromium and `npm ci` in test/browser; .ci/run
# installs both.
test-browser:
	cd test/browser && npm ci --no-audit --no-fund
	$(GO) test -count=1 -run Browser -v ./gate/

# The alert rules and their unit tests (promtool from Debian's prometheus).
alerts:
	promtool check rules deploy/prometheus/alerts.yaml
	promtool test rules deploy/prometheus/alerts_test.yaml

test-race:
	$(GO) test -race -count=1 ./...

# Every benchmark, with allocations; then the end-to-end comparison.
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...
	$(GO) run ./cmd/sluice bench

# Every benchmark once, so none rots (CI).
bench-smoke:
	$(GO) test -run '^$$' -bench . -benchtime 1x ./...

# The fleet crash test at full size: 1,000,000 records, 3 gate processes,
# 5 SIGKILLs (make test runs it at the CI size, 60,000 records).
chaos:
	SLUICE_CHAOS_RECORDS=1000000 $(GO) test -count=1 -v -run TestFleetSurvivesKills -timeout 20m ./chaos/

# The container image (needs Docker with BuildKit).
image:
	docker build -f deploy/Dockerfile --build-arg VERSION=$(VERSION) -t sluice:$(VERSION) .

# Each fuzz target for FUZZTIME.
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "fuzz $$pkg $$f"; \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 5s $$pkg || exit 1; \
	  done; \
	done

# CI: every fuzz target for 5s each; a crasher fails it (see .ci/fuzz).
fuzz-ci:
	GO=$(GO) .ci/fuzz 5s

# The gate at a fixed rate for SOAK (default 5m; `make test` runs it for
# 15s): records lost and duplicated, peak RSS, lag and goroutines, on the
# lines that start with SOAK. SOAK_RATE records a second (default 2000).
SOAK ?= 5m
SOAK_RATE ?= 2000
soak:
	SLUICE_SOAK=$(SOAK) SLUICE_SOAK_RATE=$(SOAK_RATE) $(GO) test -count=1 -run '^TestSoak$$' -v -timeout 30m ./gate/

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)
	$(GO) vet ./...

demo: build
	./$(BIN) demo

clean:
	rm -rf bin
