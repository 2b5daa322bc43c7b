# Multi-stage build: a static binary on a distroless base.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/tollgate ./cmd/tollgate

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/tollgate /tollgate
# tollgate reads ./tollgate.yaml when it exists: mount yours at
# /etc/tollgate/tollgate.yaml; without one the embedded quick start runs.
WORKDIR /etc/tollgate
EXPOSE 8080 9901
ENTRYPOINT ["/tollgate"]
