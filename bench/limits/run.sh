#!/usr/bin/env bash
# Limiter benchmarks for tollgate (issue 5). See bench/limits/README.md.
#
#   bench/limits/run.sh [all|limiter|overload]
#
# limiter:  10,000 distinct anonymous clients (X-Forwarded-For, trusted
#           127.0.0.1) against three gateways: limits off (limit: false),
#           limits on (local store), limits on (Redis store); wrk runs
#           interleaved round by round; requests/s and p99 with the ratio
#           to limits off, and Redis commands per admitted request from
#           `redis-cli info commandstats` before/after.
# overload: origin /load (latency = base + k × in-flight), one heavy client
#           and four light ones, adaptive off vs on; p99 of admitted
#           requests vs 1.5 × target_latency and the light clients' share
#           of their quota.
# Everything listens on loopback on free ports; every process started here
# is stopped by PID on exit.
set -euo pipefail

MODE=${1:-all}
case $MODE in all | limiter | overload) ;; *)
	echo "usage: $0 [all|limiter|overload]" >&2
	exit 2
	;;
esac

LIMITS_SECONDS=${LIMITS_SECONDS:-10}   # per wrk run
LIMITS_ROUNDS=${LIMITS_ROUNDS:-3}      # interleaved rounds (off, on, redis)
LIMITS_CONNS=${LIMITS_CONNS:-32}       # wrk connections
LIMITS_THREADS=${LIMITS_THREADS:-1}    # wrk threads
LIMITS_CLIENTS=${LIMITS_CLIENTS:-10000}
LIMITS_WARMUP=${LIMITS_WARMUP:-3}      # seconds of unmeasured load per gateway first
OVERLOAD_SECONDS=${OVERLOAD_SECONDS:-10}
OVERLOAD_WARMUP=${OVERLOAD_WARMUP:-5}
OVERLOAD_ROUNDS=${OVERLOAD_ROUNDS:-2}
OVERLOAD_HEAVY_QUOTA=${OVERLOAD_HEAVY_QUOTA:-500}  # heavy client's rate (burst = rate / 5)
OVERLOAD_HEAVY_RATE=${OVERLOAD_HEAVY_RATE:-700}    # offered by the heavy client, req/s
OVERLOAD_LIGHT_RATE=${OVERLOAD_LIGHT_RATE:-10}     # offered by each light client = its quota
TARGET_MS=${TARGET_MS:-50}                         # limits.adaptive.target_latency
LOAD_BASE=${LOAD_BASE:-10ms}                       # origin -load-base
LOAD_K=${LOAD_K:-2ms}                              # origin -load-k

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUT=$HERE/out
LOGS=$OUT/logs
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RESULTS=$OUT/results-$STAMP.txt
mkdir -p "$OUT" "$LOGS"
: >"$RESULTS"

log() { printf '[limits %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# ---------------------------------------------------------------- cleanup
PIDS=()
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	local i p
	for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
		kill -TERM "${PIDS[i]}" 2>/dev/null || true
	done
	for p in "${PIDS[@]}"; do
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null || true
	done
	exit "$rc"
}
trap cleanup EXIT INT TERM

# ---------------------------------------------------------------- helpers
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

wait_http() { # url
	for _ in $(seq 200); do
		curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	log "not answering: $1"
	return 1
}

sha() { printf %s "$1" | sha256sum | cut -d' ' -f1; }

median() { sort -g | awk '{a[NR]=$1} END {if (NR == 0) print 0; else if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

# start_gateway NAME CONFIG_BODY: writes the config (LISTEN/ADMIN filled),
# starts tollgate, waits for /readyz; sets GW_ADDR_<NAME> and GW_ADMIN_<NAME>.
start_gateway() {
	local name=$1 body=$2 port admin cfg
	port=$(free_port)
	admin=$(free_port)
	cfg=$OUT/gw-$name.yaml
	body=${body//LISTEN/127.0.0.1:$port}
	body=${body//ADMIN/127.0.0.1:$admin}
	printf '%s\n' "$body" >"$cfg"
	"$OUT/tollgate" -config "$cfg" 2>"$LOGS/gw-$name.log" &
	PIDS+=($!)
	wait_http "http://127.0.0.1:$admin/readyz"
	printf -v "GW_ADDR_$name" '%s' "127.0.0.1:$port"
	printf -v "GW_ADMIN_$name" '%s' "127.0.0.1:$admin"
}

# ---------------------------------------------------------------- build
if ! command -v wrk >/dev/null; then
	log "wrk missing: installing with apt"
	apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi
command -v redis-server >/dev/null || { log "redis-server missing (apt-get install redis-server)"; exit 1; }
log "building tollgate, origin, overload"
(cd "$ROOT" && go build -o "$OUT/tollgate" ./cmd/tollgate && go build -o "$OUT/origin" ./bench/origin &&
	go build -o "$OUT/overload" ./bench/limits/overload)

ORIGIN_PORT=$(free_port)
"$OUT/origin" -listen "127.0.0.1:$ORIGIN_PORT" -load-base "$LOAD_BASE" -load-k "$LOAD_K" >"$LOGS/origin.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$ORIGIN_PORT/bytes/1"
ORIGIN=127.0.0.1:$ORIGIN_PORT

# ---------------------------------------------------------------- limiter
limiter_scenario() {
	local redis_port
	redis_port=$(free_port)
	redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no >"$LOGS/redis.log" 2>&1 &
	PIDS+=($!)
	for _ in $(seq 100); do redis-cli -p "$redis_port" ping 2>/dev/null | grep -q PONG && break; sleep 0.05; done

	local common
	common="server: {listen: \"LISTEN\", trusted_proxies: [\"127.0.0.1/32\"]}
admin: {listen: \"ADMIN\"}
upstreams: {origin: {targets: [\"$ORIGIN\"]}}
clients:
  default: {rate: 100/s, burst: 200}     # per caller: nothing is refused at ~2 req/s each"
	start_gateway off "$common
routes:
  - {name: bench, match: {path_prefix: /}, upstream: origin, limit: false}"
	start_gateway on "$common
limits: {headers: ietf}
routes:
  - {name: bench, match: {path_prefix: /}, upstream: origin}"
	start_gateway redis "$common
limits:
  headers: ietf
  store: redis
  redis: {addrs: [\"127.0.0.1:$redis_port\"], sync_interval: 50ms}
routes:
  - {name: bench, match: {path_prefix: /}, upstream: origin}"

	local names=(off on redis) n line
	run_wrk() { # name seconds
		local addr_var="GW_ADDR_$1"
		wrk -t"$LIMITS_THREADS" -c"$LIMITS_CONNS" -d"$2"s -s "$HERE/clients.lua" "http://${!addr_var}/bytes/128" \
			-- "$LIMITS_CLIENTS" /bytes/128 2>&1 | grep '^RESULT'
	}
	for n in "${names[@]}"; do
		log "warm-up $n (${LIMITS_WARMUP}s, creates the $LIMITS_CLIENTS callers)"
		run_wrk "$n" "$LIMITS_WARMUP" >/dev/null
	done
	cmdstats() { redis-cli -p "$redis_port" info commandstats | tr -d '\r'; }
	local before after
	before=$(cmdstats)
	declare -A RPS P99 P50 NON2XX
	local admitted_redis=0 round i
	for ((round = 0; round < LIMITS_ROUNDS; round++)); do
		for ((i = 0; i < 3; i++)); do
			n=${names[(i + round) % 3]}
			line=$(run_wrk "$n" "$LIMITS_SECONDS")
			log "round $((round + 1)) $n: $line"
			echo "limiter round=$((round + 1)) gateway=$n $line" >>"$RESULTS"
			local req rps p50 p99 non sock
			read -r req rps p50 p99 non sock < <(sed -E 's/RESULT requests=([0-9]+) rps=([0-9.]+) p50_us=([0-9]+) p99_us=([0-9]+) non2xx=([0-9]+) sockerr=([0-9]+)/\1 \2 \3 \4 \5 \6/' <<<"$line")
			RPS[$n]+="$rps "
			P50[$n]+="$p50 "
			P99[$n]+="$p99 "
			NON2XX[$n]=$((${NON2XX[$n]:-0} + non + sock))
			if [[ $n == redis ]]; then admitted_redis=$((admitted_redis + req - non)); fi
		done
	done
	after=$(cmdstats)
	# calls per command, after minus before; info itself excluded
	local script_calls all_calls
	read -r script_calls all_calls < <(
		{
			sed 's/^/B /' <<<"$before"
			sed 's/^/A /' <<<"$after"
		} | awk -F'[:,=]' '
		/^[AB] cmdstat_/ { split($1, p, " "); name=p[2]; calls=$3; if (p[1]=="A") a[name]=calls; else b[name]=calls }
		END { s=0; t=0; for (k in a) { if (k ~ /cmdstat_info/) continue; d=a[k]-b[k]; t+=d; if (k ~ /cmdstat_eval/) s+=d } print s, t }')

	{
		echo
		echo "## limiter: $LIMITS_CLIENTS distinct clients, wrk -t$LIMITS_THREADS -c$LIMITS_CONNS -d${LIMITS_SECONDS}s × $LIMITS_ROUNDS interleaved rounds (medians), GET /bytes/128"
		echo
		echo "| gateway | requests/s | p50 | p99 | requests/s vs off | p99 vs off | non-2xx + socket errors |"
		echo "| --- | --- | --- | --- | --- | --- | --- |"
		local off_rps off_p99 m_rps m_p50 m_p99
		off_rps=$(tr ' ' '\n' <<<"${RPS[off]}" | grep . | median)
		off_p99=$(tr ' ' '\n' <<<"${P99[off]}" | grep . | median)
		for n in "${names[@]}"; do
			m_rps=$(tr ' ' '\n' <<<"${RPS[$n]}" | grep . | median)
			m_p50=$(tr ' ' '\n' <<<"${P50[$n]}" | grep . | median)
			m_p99=$(tr ' ' '\n' <<<"${P99[$n]}" | grep . | median)
			local label=$n
			case $n in off) label="limits off (limit: false)" ;; on) label="limits on, local store" ;; redis) label="limits on, store: redis" ;; esac
			awk -v l="$label" -v r="$m_rps" -v p50="$m_p50" -v p="$m_p99" -v r0="$off_rps" -v p0="$off_p99" -v e="${NON2XX[$n]}" \
				'BEGIN { printf "| %s | %.0f | %.2f ms | %.2f ms | %+.1f %% | %+.1f %% | %d |\n", l, r, p50/1000, p/1000, 100*(r/r0-1), 100*(p/p0-1), e }'
		done
		echo
		awk -v s="$script_calls" -v t="$all_calls" -v a="$admitted_redis" 'BEGIN {
			printf "Redis (store: redis, measured rounds only): %d admitted, %d script calls (EVALSHA/EVAL), %d commands in all (inside scripts and heartbeats included)\n", a, s, t
			printf "→ %.4f script calls (round trips) per admitted request, %.4f Redis commands per admitted request\n", s/a, t/a }'
	} | tee -a "$RESULTS"
}

# ---------------------------------------------------------------- overload
overload_scenario() {
	local keys="" clients="" i
	keys="      - {sha256: \"$(sha heavy-key)\", client_id: heavy}"
	for i in 1 2 3 4; do
		keys+=$'\n'"      - {sha256: \"$(sha light-key-$i)\", client_id: light-$i}"
		clients+=$'\n'"  light-$i: {rate: ${OVERLOAD_LIGHT_RATE}/s, burst: ${OVERLOAD_LIGHT_RATE}}"
	done
	local body
	body="server: {listen: \"LISTEN\"}
admin: {listen: \"ADMIN\"}
auth:
  api_keys:
    keys:
$keys
upstreams:
  origin:
    targets: [\"$ORIGIN\"]
    pool: {max_conns_per_target: 2048, max_idle_per_target: 1024}
    timeouts: {connect: 1s, response_header: 10s}
clients:
  default: {rate: 10/s, burst: 10}
  heavy: {rate: ${OVERLOAD_HEAVY_QUOTA}/s, burst: $((OVERLOAD_HEAVY_QUOTA / 5))}$clients
routes:
  - {name: api, match: {path_prefix: /}, upstream: origin, auth: [api_key], timeout: 10s}
limits:
  headers: ietf"
	start_gateway adaptive_off "$body
  adaptive: {enabled: false}"
	start_gateway adaptive_on "$body
  adaptive: {enabled: true, target_latency: ${TARGET_MS}ms, min_factor: 0.05}"

	local round n line
	local lines=()
	for ((round = 0; round < OVERLOAD_ROUNDS; round++)); do
		for n in adaptive_off adaptive_on; do
			local a="GW_ADDR_$n" m="GW_ADMIN_$n"
			line=$("$OUT/overload" -gateway "${!a}" -admin "${!m}" -path /load -upstream origin \
				-heavy-rate "$OVERLOAD_HEAVY_RATE" -light-rate "$OVERLOAD_LIGHT_RATE" -light-quota "$OVERLOAD_LIGHT_RATE" \
				-warmup "${OVERLOAD_WARMUP}s" -duration "${OVERLOAD_SECONDS}s" -label "$n#$((round + 1))")
			log "$line"
			echo "overload $line" >>"$RESULTS"
			lines+=("$line")
			sleep 2 # let the origin drain
		done
	done
	{
		echo
		echo "## overload: origin /load = $LOAD_BASE + $LOAD_K × in-flight; heavy offers ${OVERLOAD_HEAVY_RATE}/s (quota ${OVERLOAD_HEAVY_QUOTA}/s), 4 light clients offer ${OVERLOAD_LIGHT_RATE}/s each (= quota); target_latency ${TARGET_MS}ms, min_factor 0.05; ${OVERLOAD_WARMUP}s warm-up + ${OVERLOAD_SECONDS}s measured"
		echo
		echo "| run | heavy admitted/s | p50 admitted | p99 admitted | p99 light | 1.5 × target | p99 within | light share of quota | factor min / avg |"
		echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
		for line in "${lines[@]}"; do
			awk -v t="$TARGET_MS" '{
				for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
				lim = 1.5 * t
				ok = (v["p99_admitted_ms"] <= lim) ? "yes" : "no"
				printf "| %s | %.0f | %.1f ms | %.1f ms | %.1f ms | %.0f ms | %s | %.1f %% | %.2f / %.2f |\n",
					v["label"], v["heavy_admitted_per_s"], v["p50_admitted_ms"], v["p99_admitted_ms"], v["p99_light_ms"], lim, ok,
					100 * v["light_share"], v["factor_min"], v["factor_avg"]
			}' <<<"$line"
		done
	} | tee -a "$RESULTS"
}

case $MODE in
all)
	limiter_scenario
	overload_scenario
	;;
limiter) limiter_scenario ;;
overload) overload_scenario ;;
esac
log "results in $RESULTS"
