# Multi-stage build: a static binary on a distroless base.
#   docker build --build-arg VERSION=$(git describe --always --dirty) -t tollgate .
# (or `make docker`); the version shows in `tollgate -version`, the start
# log line and tollgate_build_info.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/tollgate ./cmd/tollgate

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/tollgate /tollgate
# tollgate reads ./tollgate.yaml when it exists. Mount a DIRECTORY holding
# tollgate.yaml at /etc/tollgate (not the file itself: an editor that saves
# by writing a new file and renaming it, or a Kubernetes ConfigMap update,
# replaces the file, and a single-file bind mount keeps showing the old
# one, so a reload would read stale config). Without one the embedded
# quick start runs.
WORKDIR /etc/tollgate
# The admin endpoints (/readyz, /metrics, /reload) listen on every
# interface inside the container, so probes and Prometheus reach them;
# publish 9901 only to where they should be reachable.
ENV TOLLGATE_ADMIN_ADDR=":9901"
EXPOSE 8080 9901
# A health check without a shell or curl: -probe asks /readyz.
HEALTHCHECK --interval=10s --timeout=4s --start-period=5s --retries=3 CMD ["/tollgate", "-probe"]
ENTRYPOINT ["/tollgate"]
