# paydesk: the two commands are `make run` and `make test`. Everything else
# is a convenience.

GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
BIN      := bin/paydesk

.PHONY: build run test vet fmt-check generate templ-check bench bench-upsert bench-sync bench-webhooks bench-pages clean

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/paydesk

# The README's first command: the demo (paydesk demo --help). It keeps its
# PostgreSQL cluster and session key in .paydesk-demo/; delete it to start
# over. Ctrl-C stops everything it started.
run: build
	./$(BIN) demo

# The README's test command. Needs Go and PostgreSQL's binaries; the test
# helpers start their own throwaway PostgreSQL and stripe-mock.
test: vet fmt-check templ-check
	$(GO) test -count=1 -timeout 15m ./...

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '_templ.go$$')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

# views/*_templ.go are generated from views/*.templ and committed. Run from
# the repository root: the generated files name their .templ by that path.
generate:
	$(GO) tool templ generate

# Fails when templ generate changes or adds a *_templ.go file, compared with
# what git has (committed or staged): run `make generate` and commit.
templ-check: generate
	@git diff --exit-code --stat -- ':(glob)views/**/*_templ.go' || \
		{ echo "templ generate changed views/: run 'make generate' and commit"; exit 1; }
	@out=$$(git status --porcelain --untracked-files=all -- views | grep '_templ\.go$$'); \
	if [ -n "$$out" ]; then echo "templ generate left uncommitted files:"; echo "$$out"; exit 1; fi

# Benchmarks print figures; they assert nothing about time.
bench: bench-upsert bench-sync bench-webhooks bench-pages

bench-upsert:
	$(GO) test -run '^$$' -bench BenchmarkUpsert -benchtime 200x -count 1 ./store/

bench-sync:
	$(GO) test -run '^$$' -bench BenchmarkSync -benchtime 1x -count 1 -timeout 20m ./stripeapi/backfill/

# Signed events into a running paydesk serve on a durable PostgreSQL; see
# BenchmarkWebhooks in cmd/paydesk for the BENCH_* settings (events, mix,
# concurrency, duplicates, reordering, same-second ties).
bench-webhooks:
	$(GO) test -run '^$$' -bench BenchmarkWebhooks -benchtime 1x -count 1 -timeout 30m ./cmd/paydesk/

clean:
	rm -rf bin

# Seeds 100,000 customers, 300,000 invoices, 1,000,000 charges and 100,000
# refunds, then prints p50/p95/p99 server time of every list, filter,
# search and detail page under 8 clients, and the time and peak memory of
# the CSV export of every charge. See BenchmarkPages in cmd/paydesk for the
# BENCH_* settings (BENCH_DATA_DIR keeps the seeded cluster for reruns).
bench-pages:
	$(GO) test -run '^$$' -bench BenchmarkPages -benchtime 1x -count 1 -timeout 60m ./cmd/paydesk/
