# gitops-connector — build, run, test.
#
#   make run    build and serve on :8080 with the example config (dry run unless PAT is set)
#   make test   every test of every module
#   make lint   formatting, vet, protocol lint, generated-code freshness

SHELL := /bin/bash
.DEFAULT_GOAL := build

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
TOOLS   := $(CURDIR)/.tools
BIN     := $(CURDIR)/bin
# The bundled plugins: every plugins/<name> with a main package.
PLUGINS := $(notdir $(patsubst %/main.go,%,$(wildcard plugins/*/main.go)))

# Pinned tool versions.
BUF_VERSION                := v1.75.0
HELM_VERSION               := v3.22.0
HELM_DOCS_VERSION          := v1.14.2
PROTOC_GEN_GO_VERSION      := v1.36.12
PROTOC_GEN_GO_GRPC_VERSION := v1.6.2

export GOFLAGS := -buildvcs=false

HELM      := $(TOOLS)/helm-$(HELM_VERSION)/helm
HELM_DOCS := $(TOOLS)/helm-docs-$(HELM_DOCS_VERSION)/helm-docs
CHART     := charts/gitops-connector
IMAGE     ?= ghcr.io/gitops-connector/gitops-connector

BENCH_COUNT ?= 1

.PHONY: build run test lint proto proto-check tools clean chart chart-docs chart-docs-check image bench bench-micro

$(TOOLS)/buf:
	GOBIN=$(TOOLS) go install github.com/bufbuild/buf/cmd/buf@$(BUF_VERSION)
$(TOOLS)/protoc-gen-go:
	GOBIN=$(TOOLS) go install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
$(TOOLS)/protoc-gen-go-grpc:
	GOBIN=$(TOOLS) go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)

$(HELM):
	GOBIN=$(dir $@) go install helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)
$(HELM_DOCS):
	GOBIN=$(dir $@) go install github.com/norwoodj/helm-docs/cmd/helm-docs@$(HELM_DOCS_VERSION)

tools: $(TOOLS)/buf $(TOOLS)/protoc-gen-go $(TOOLS)/protoc-gen-go-grpc

## build: the host in bin/ and every bundled plugin in bin/plugins/
build:
	@mkdir -p $(BIN)/plugins
	cd host && CGO_ENABLED=0 go build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/gitops-connector ./cmd/gitops-connector
	@for p in $(PLUGINS); do \
		echo "build plugin $$p"; \
		(cd plugins/$$p && CGO_ENABLED=0 go build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/plugins/$$p .) || exit 1; \
	done

## run: serve on :8080 with examples/config.yaml; dry run unless PAT is set
run: build
	@if [ -n "$$PAT" ]; then dry=""; else dry="--dry-run"; echo "PAT is not set: dry run (statuses and notifications are logged, not sent)"; fi; \
	exec $(BIN)/gitops-connector --config examples/config.yaml $$dry

## test: every test of every module in the workspace
test:
	go test -count=1 -timeout 45m work

## lint: gofmt, go vet, buf lint, generated code up to date
lint: tools proto-check chart-docs-check
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	go vet work
	$(TOOLS)/buf lint

## proto: regenerate the protocol's Go code
proto: tools
	PATH=$(TOOLS):$$PATH $(TOOLS)/buf generate

## proto-check: fail when the committed generated code is stale
proto-check: tools
	@tmp=$$(mktemp -d); trap 'rm -rf $$tmp' EXIT; \
	PATH=$(TOOLS):$$PATH $(TOOLS)/buf generate -o $$tmp && \
	diff -r --exclude='*.proto' --exclude=go.mod --exclude=go.sum $$tmp/proto proto \
		|| { echo "generated code is stale: run 'make proto' and commit"; exit 1; }

## chart: lint the Helm chart with every example values file and package it into dist/
chart: chart-docs-check $(HELM)
	$(HELM) lint --strict $(CHART)
	@for f in $(CHART)/ci/*.yaml; do $(HELM) lint --strict $(CHART) --values $$f || exit 1; done
	$(HELM) package $(CHART) --destination dist

## chart-docs: regenerate the chart README from values.yaml
chart-docs: $(HELM_DOCS)
	$(HELM_DOCS) --chart-search-root charts --sort-values-order file

chart-docs-check: $(HELM_DOCS)
	@$(HELM_DOCS) --chart-search-root charts --sort-values-order file --dry-run 2>/dev/null \
	  | diff -u $(CHART)/README.md - \
	  || { echo "$(CHART)/README.md is out of date: run make chart-docs"; exit 1; }

## image: build the container image (needs a Docker engine)
image:
	docker build --build-arg VERSION=$(VERSION) -t $(IMAGE):$(VERSION) .

## bench: the load benchmark against the performance targets (prints the table and
##        regenerates the figures of docs/performance.md), then the micro-benchmarks;
##        BENCH_COUNT=3 runs every phase three times (median and range of each figure)
bench:
	cd bench && go run ./cmd/gitops-connector-bench -count $(BENCH_COUNT) -write ../docs/performance.md
	@$(MAKE) --no-print-directory bench-micro

## bench-micro: Go micro-benchmarks of the decoders, the queue, the host's event path and a GitHub status, benchstat-ready
##              (make bench-micro BENCH_COUNT=6 > new.txt; benchstat old.txt new.txt)
bench-micro:
	@for m in plugins/flux:./internal/event plugins/flux:. plugins/argocd:./internal/notification plugins/argocd:. host:./internal/pipeline host:./internal/store host:./internal/intake host:./internal/metrics host:./internal/pluginhost plugins/github:./internal/repository; do \
		(cd $${m%%:*} && go test -run '^$$' -bench . -benchmem -count $(BENCH_COUNT) $${m#*:}) || exit 1; \
	done

clean:
	rm -rf $(BIN)
