#!/usr/bin/env bash
# Runs one example of this directory with everything it needs:
#
#   examples/demo.sh NAME        (or: make demo NAME=...)
#
# NAME is api-keys, jwt-jwks, redis, breakers or tollgate. The script builds
# tollgate and examples/demokit, starts the origins (and token issuer, and
# redis-server) the example's comments name, starts tollgate with
# examples/NAME.yaml, prints the example's "Try:" lines and waits; Ctrl-C
# stops every process it started (by PID).
set -euo pipefail
cd "$(dirname "$0")/.."

name=${1:-}
case "$name" in
  api-keys|jwt-jwks|redis|breakers|tollgate) ;;
  *) echo "usage: examples/demo.sh api-keys|jwt-jwks|redis|breakers|tollgate" >&2; exit 2 ;;
esac

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "building tollgate and demokit…"
go build -o "$work/tollgate" ./cmd/tollgate
go build -o "$work/demokit" ./examples/demokit

# start runs a command in the background and remembers its PID.
start() { "$@" & pids+=($!); }
origin() { start "$work/demokit" origin -listen "$1" -name "$2"; }

# ready waits until an admin listener answers /readyz.
ready() {
  for _ in $(seq 100); do
    curl -sf "http://$1/readyz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "tollgate on admin $1 did not become ready" >&2
  exit 1
}

config=examples/$name.yaml
case "$name" in
  api-keys) origin 127.0.0.1:9001 orders ;;
  jwt-jwks)
    start "$work/demokit" issuer -listen 127.0.0.1:9100
    origin 127.0.0.1:9001 reports ;;
  redis)
    command -v redis-server >/dev/null || { echo "redis-server is needed: apt-get install -y redis-server" >&2; exit 1; }
    start redis-server --port 6380 --bind 127.0.0.1 --save "" --appendonly no --loglevel warning
    origin 127.0.0.1:9001 inventory ;;
  breakers)
    origin 127.0.0.1:9001 catalog-a
    origin 127.0.0.1:9002 catalog-b ;;
  tollgate)
    origin 127.0.0.1:9001 users-a
    origin 127.0.0.1:9002 users-b
    origin 127.0.0.1:9101 search ;;
esac
sleep 0.3 # let the origins bind before tollgate's first health check

if [ "$name" = redis ]; then
  for i in 1 2 3; do
    sed -e "s/^  listen: \":8080\"/  listen: \":808$((i - 1))\"/" \
        -e "s/^  listen: \"127.0.0.1:9901\"/  listen: \"127.0.0.1:990$i\"/" "$config" >"$work/redis-$i.yaml"
    start "$work/tollgate" -config "$work/redis-$i.yaml"
    ready "127.0.0.1:990$i"
  done
else
  start "$work/tollgate" -config "$config"
  ready 127.0.0.1:9901
fi

echo
sed -n '/^# Try:/,/^[^#]/p' "$config" | grep '^#' | sed 's/^# \{0,1\}//'
echo
echo "running; Ctrl-C stops everything this script started"
wait
