#!/usr/bin/env bash
# Three tollgate gateways on one redis-server share one client's monthly
# quota of 10,000 requests; wrk spends it through all three at once. Prints
# how many were admitted (against the quota: the target is +1%/−2%) and the
# Redis commands per admitted request (INFO commandstats, every command
# including those run inside scripts; the target is ≤ 0.05).
#
#   bench/quota.sh            (QUOTA_SECONDS=4 QUOTA_CONNS=8 by default)
#
# Everything listens on loopback on free ports; every process started here
# is stopped by PID on exit. Needs redis-server, redis-cli and wrk.
set -euo pipefail

QUOTA=${QUOTA:-10000}
QUOTA_SECONDS=${QUOTA_SECONDS:-4}  # wrk run per gateway (all three at once)
QUOTA_CONNS=${QUOTA_CONNS:-8}      # wrk connections per gateway
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
OUT=$HERE/out/quota
mkdir -p "$OUT"

for tool in redis-server redis-cli wrk; do
	command -v "$tool" >/dev/null || { echo "$tool not found (apt-get install -y redis-server redis-tools wrk)" >&2; exit 1; }
done

LOG_TAG=quota
. "$HERE/lib.sh" # log, PIDS and the cleanup trap, free_port, wait_http


(cd "$ROOT" && go build -o "$OUT/tollgate" ./cmd/tollgate && go build -o "$OUT/origin" ./bench/origin)

free_port REDIS_PORT
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no >"$OUT/redis.log" 2>&1 &
PIDS+=($!)
free_port ORIGIN_PORT
"$OUT/origin" -listen "127.0.0.1:$ORIGIN_PORT" >"$OUT/origin.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
wait_http "http://127.0.0.1:$ORIGIN_PORT/conns" origin

KEY=bench-quota-key
SUM=$(printf %s "$KEY" | sha256sum | cut -d' ' -f1)
GW=()
for i in 1 2 3; do
	free_port PORT
	free_port ADMIN
	cat >"$OUT/gw$i.yaml" <<YAML
server: {listen: "127.0.0.1:$PORT", access_log: false}
admin: {listen: "127.0.0.1:$ADMIN"}
auth:
  api_keys:
    keys: [{sha256: "$SUM", client_id: buyer}]
upstreams:
  app: {targets: ["127.0.0.1:$ORIGIN_PORT"]}
clients:
  default: {rate: 1/s, burst: 1}
  buyer: {rate: 100000/s, burst: 100000, quota: {limit: $QUOTA, period: month}}
limits:
  store: redis
  redis: {addrs: ["127.0.0.1:$REDIS_PORT"], sync_interval: 50ms, on_failure: deny}
routes:
  - {name: api, match: {path_prefix: /}, upstream: app, auth: [api_key]}
YAML
	"$OUT/tollgate" -check -config "$OUT/gw$i.yaml"
	"$OUT/tollgate" -config "$OUT/gw$i.yaml" >"$OUT/gw$i.log" 2>&1 &
	PIDS+=($!)
	wait_http "http://127.0.0.1:$ADMIN/readyz" "gateway $i"
	GW+=("127.0.0.1:$PORT")
done
for _ in $(seq 50); do [[ $(redis-cli -p "$REDIS_PORT" zcard tollgate:rl:instances) == 3 ]] && break; sleep 0.1; done
sleep 1.1 # every gateway reads the instance count once more

redis-cli -p "$REDIS_PORT" config resetstat >/dev/null
before=$(curl -fsS "http://127.0.0.1:$ORIGIN_PORT/requests")
for i in 0 1 2; do
	wrk -t1 -c"$QUOTA_CONNS" -d"${QUOTA_SECONDS}s" -H "X-API-Key: $KEY" "http://${GW[i]}/bytes/16" >"$OUT/wrk$i.txt" 2>&1 &
	WRK[i]=$!
done
for i in 0 1 2; do wait "${WRK[i]}"; done
after=$(curl -fsS "http://127.0.0.1:$ORIGIN_PORT/requests")
admitted=$((after - before))

commands=$(redis-cli -p "$REDIS_PORT" info commandstats | awk -F'[=,:]' '/^cmdstat_/ && $1 != "cmdstat_config" && $1 != "cmdstat_info" {s += $3} END {print s}')
scripts=$(redis-cli -p "$REDIS_PORT" info commandstats | awk -F'[=,:]' '/^cmdstat_evalsha|^cmdstat_eval:/ {s += $3} END {print s+0}')
sent=0
refused=0
for i in 0 1 2; do
	n=$(awk '/requests in/ {print $1}' "$OUT/wrk$i.txt")
	r=$(awk '/Non-2xx/ {print $5}' "$OUT/wrk$i.txt")
	sent=$((sent + n))
	refused=$((refused + ${r:-0}))
done

echo "three gateways, one Redis, one client, monthly quota $QUOTA, ${QUOTA_SECONDS}s of wrk (${QUOTA_CONNS} connections) per gateway"
echo "  requests sent:            $sent (refused $refused)"
awk -v a="$admitted" -v q="$QUOTA" 'BEGIN {printf "  admitted (origin count):  %d = %+.2f%% of the quota (target +1%% / -2%%)\n", a, 100 * (a / q - 1)}'
awk -v c="$commands" -v s="$scripts" -v a="$admitted" 'BEGIN {printf "  Redis commands:           %d (%d script calls) = %.4f per admitted request (target <= 0.05)\n", c, s, c / a}'
ok=$(awk -v a="$admitted" -v q="$QUOTA" -v c="$commands" 'BEGIN {print (a >= q * 0.98 && a <= q * 1.01 && c / a <= 0.05) ? "yes" : "no"}')
echo "  within targets:           $ok"
[[ $ok == yes ]]
