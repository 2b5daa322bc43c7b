# Convenience targets; the README's two commands work without make.
GO ?= go
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)

.PHONY: build run test check bench fmt demo docker

build:
	CGO_ENABLED=0 $(GO) build -ldflags "-s -w -X main.version=$(VERSION)" -o bin/tollgate ./cmd/tollgate

run:
	$(GO) run ./cmd/tollgate

test:
	.ci/run

check: build
	bin/tollgate -check -config examples/tollgate.yaml

bench:
	bench/run.sh

# make demo NAME=api-keys|jwt-jwks|redis|breakers|tollgate (examples/README.md)
demo:
	examples/demo.sh $(NAME)

docker:
	docker build --build-arg VERSION=$(VERSION) -t tollgate:$(VERSION) -t tollgate .

fmt:
	gofmt -w $$(git ls-files '*.go')
