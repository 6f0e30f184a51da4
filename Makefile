# stridemap — see README.md. Everything here needs only Go.
GO       ?= go
BIN      := bin/stridemap
DEMO_DB  := .stridemap/demo.db
STATICCHECK := $(GO) tool staticcheck

.PHONY: build demo test test-kernels bench lint fuzz clean

# stridemap, and the two helpers it runs: stridemap-render draws with Graphviz,
# stridemap-observer attaches the eBPF programs (as root) for "stridemap observe".
# Static, as the images in deploy/ are: nothing here needs C (the SQLite driver
# is pure Go), and linked against libc, stridemap kept 10 MiB more of its own
# file resident at 500 copies of Online Boutique, for the same CPU time.
build:
	CGO_ENABLED=0 $(GO) build -o $(BIN) ./cmd/stridemap
	CGO_ENABLED=0 $(GO) build -o bin/stridemap-render ./cmd/stridemap-render
	CGO_ENABLED=0 $(GO) build -o bin/stridemap-observer ./cmd/stridemap-observer

# Scan the demo shop in testdata/demo into a fresh store and show the result.
demo: build
	@rm -f $(DEMO_DB) $(DEMO_DB)-wal $(DEMO_DB)-shm
	./$(BIN) --db $(DEMO_DB) scan -f testdata/demo
	@echo
	./$(BIN) --db $(DEMO_DB) graph --format table
	@./$(BIN) --db $(DEMO_DB) graph --format json -o .stridemap/demo.json
	@./$(BIN) --db $(DEMO_DB) graph --format svg -o .stridemap/demo.svg
	@./$(BIN) --db $(DEMO_DB) report --format html -o .stridemap/demo.html
	@echo
	@echo "Written: .stridemap/demo.svg (diagram), .stridemap/demo.html (audit report), .stridemap/demo.json (graph)"
	@echo "Review it in the terminal: ./$(BIN) --db $(DEMO_DB) tui"
	@echo "Or list the threats:       ./$(BIN) --db $(DEMO_DB) findings --severity high"

# vet, staticcheck and every test (with the race detector), then the eBPF
# tests under other kernels. Tests that need ../shared/corpus or root run in
# CI and skip with a message elsewhere.
test: lint
	$(GO) test -race -count=1 -timeout 30m ./...
	@$(MAKE) --no-print-directory test-kernels

# The eBPF and network-namespace tests under each of a set of Debian kernels,
# booted with QEMU, and which eBPF parts load on each (.ci/kernel-matrix.sh
# says how; sudo .ci/kernel-matrix.sh --update-readme rewrites README's
# table). As root with QEMU, else it skips with a message; in CI it must run.
test-kernels:
	.ci/kernel-matrix.sh

lint:
	$(GO) vet ./...
	$(STATICCHECK) ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }

# Scale benchmark: 10, 100 and 500 copies of Online Boutique (needs ../shared/corpus);
# then 100 and 400 copies all in one namespace, a Service, policies and a monitor per
# workload (target: CPU per object grows at most 1.5x);
# then 100 re-scans of the 500 copies, one change each: store bytes per scan;
# then 100 copies loaded into a test kube-apiserver (built by .ci/kube-apiserver.sh,
# else skipped with a note) scanned live beside a scan of their files: wall and CPU
# time, peak memory, requests (target: live at most 2x the files' time); then the
# Go micro-benchmarks of each pipeline stage, then (as root) the eBPF observer's
# cost to a loopback load generator and its event rate.
bench: build
	$(GO) run ./cmd/stridemap-bench -bin $(BIN)
	$(GO) test -run '^$$' -bench . -benchmem ./...
	STRIDEMAP_BENCH=1 $(GO) test -count=1 -run 'TestObserverThroughput|TestObserverDrainRate' -v ./discover/flows

# Every fuzz target (the list is in .ci/fuzz.sh) for FUZZTIME each, one
# after the other: about half a minute a target at the default 20s, builds
# included. New crashers land in the package's testdata/fuzz; commit them
# with the fix as regression seeds.
FUZZTIME ?= 20s
fuzz:
	FUZZTIME=$(FUZZTIME) .ci/fuzz.sh

clean:
	rm -rf bin .stridemap
