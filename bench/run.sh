#!/usr/bin/env bash
# tollgate vs nginx benchmark. See bench/README.md.
#
#   bench/run.sh [all|throughput|gateway|transfers|idle|syscalls|slow|identity|h2]
#
# all (default) runs throughput, gateway, transfers and idle, stops its
# processes, runs h2 (bench/h2.sh: HTTP/2 and gRPC against nginx, its own
# processes) and prints one table of tollgate/nginx ratios (h2's rows
# appended), then runs identity (bench/identity.sh: signed requests, mTLS
# and TLS to upstreams against nginx, its own processes and table;
# BENCH_IDENTITY= skips it); h2 and identity run their script alone;
# gateway runs the gateway scenarios (JWT auth with per-client limits,
# local and Redis store; a JSON POST) against nginx proxying plainly,
# with the plain GET 128 B for reference; syscalls
# counts syscalls per request with strace; slow runs bench/slow.sh
# (slowhttptest -B, -X and -H against both, with a normal client measured
# meanwhile; about 7 minutes, not part of all).
# Everything listens on loopback on free ports; every process started here
# is stopped by PID on exit.
set -euo pipefail

MODE=${1:-all}
case $MODE in all | throughput | gateway | transfers | idle | syscalls) ;;
slow) exec "$(dirname "${BASH_SOURCE[0]}")/slow.sh" ;;
identity) exec "$(dirname "${BASH_SOURCE[0]}")/identity.sh" ;;
h2) exec "$(dirname "${BASH_SOURCE[0]}")/h2.sh" ;;
*)
	echo "usage: $0 [all|throughput|gateway|transfers|idle|syscalls|slow|identity|h2]" >&2
	exit 2
	;;
esac

BENCH_SECONDS=${BENCH_SECONDS:-10}         # per wrk run
BENCH_ROUNDS=${BENCH_ROUNDS:-2}            # A/B rounds per scenario
BENCH_CONNS=${BENCH_CONNS:-50}             # wrk connections
BENCH_TG_ENV=${BENCH_TG_ENV:-}             # extra environment for tollgate (e.g. GOGC=200)
BENCH_THREADS=${BENCH_THREADS:-$(nproc)}   # wrk threads
BENCH_WARMUP=${BENCH_WARMUP:-2}            # seconds of unmeasured load per proxy first
BENCH_BIG_BYTES=${BENCH_BIG_BYTES:-1073741824}
BENCH_IDLE_CONNS=${BENCH_IDLE_CONNS:-10000}
BENCH_IDLE_HOLD=${BENCH_IDLE_HOLD:-4}      # seconds the idle connections stay idle
BENCH_SYSCALL_REQUESTS=${BENCH_SYSCALL_REQUESTS:-20000}
BENCH_LOOPS=${BENCH_LOOPS:-$(nproc)}       # tollgate accept_loops = nginx worker_processes
BENCH_NGINX_BUF=${BENCH_NGINX_BUF:-256k}   # nginx buffer for the unbuffered large-body locations
BENCH_GATEWAY=${BENCH_GATEWAY:-jwt-hs256 jwt-traced jwt-rs256 jwt-redis post-1k}  # gateway scenarios run

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
OUT=$HERE/out
LOGS=$OUT/logs
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RESULTS=$OUT/results-$STAMP.txt
CLK_TCK=$(getconf CLK_TCK)
read -r -a SIZES <<<"${BENCH_SIZES:-128 16384}"  # GET sizes of the throughput runs

mkdir -p "$OUT" "$LOGS"
: >"$RESULTS"

# ---------------------------------------------------------------- cleanup
LOG_TAG=bench
. "$HERE/lib.sh" # log, PIDS and the cleanup trap, free_port, wait_http

# Gateway scenarios this mode runs (none outside all and gateway).
read -r -a GW_SCENARIOS <<<"$BENCH_GATEWAY"
[[ $MODE == all || $MODE == gateway ]] || GW_SCENARIOS=()
for sc in "${GW_SCENARIOS[@]}"; do
	case $sc in jwt-hs256 | jwt-traced | jwt-rs256 | jwt-redis | post-1k) ;; *)
		echo "BENCH_GATEWAY: unknown scenario '$sc' (jwt-hs256 jwt-traced jwt-rs256 jwt-redis post-1k)" >&2
		exit 2
		;;
	esac
done
gw_has() { [[ " ${GW_SCENARIOS[*]} " == *" $1 "* ]]; }

# ---------------------------------------------------------------- tools
need=(nginx wrk curl)
[[ $MODE == syscalls ]] && need+=(strace)
gw_has jwt-redis && need+=(redis-server redis-cli)
missing=()
declare -A pkg=([nginx]=nginx [wrk]=wrk [curl]=curl [strace]=strace [redis-server]=redis-server [redis-cli]=redis-tools)
for t in "${need[@]}"; do
	command -v "$t" >/dev/null 2>&1 || missing+=("${pkg[$t]}")
done
if ((${#missing[@]})); then
	log "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y "${missing[@]}" >/dev/null 2>&1 ||
		{ apt-get update >/dev/null && apt-get install -y "${missing[@]}" >/dev/null; }
fi
NGINX=$(command -v nginx)

# Raise the open-files limit as far as allowed; everything started below
# inherits it.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE=$(ulimit -n)
IDLE_N=$BENCH_IDLE_CONNS
if ((IDLE_N > NOFILE - 1000)); then
	IDLE_N=$((NOFILE - 1000))
	note "idle connections sized to $IDLE_N to fit the open-files limit ($NOFILE)"
fi

# ---------------------------------------------------------------- build
log "building into $OUT"
(cd "$ROOT" && go build -o "$OUT/tollgate" ./cmd/tollgate &&
	go build -o "$OUT/origin" ./bench/origin &&
	go build -o "$OUT/idleconns" ./bench/idleconns &&
	go build -o "$OUT/jwtgen" ./bench/jwtgen)
REV=$(bench_rev)

# ---------------------------------------------------------------- ports
free_port ORIGIN_PORT
free_port TG_PORT
free_port TG_ADMIN
free_port NGX_PORT
ORIGIN=127.0.0.1:$ORIGIN_PORT
declare -A PORT=([tollgate]=$TG_PORT [nginx]=$NGX_PORT)


# ---------------------------------------------------------------- origin
"$OUT/origin" -listen "$ORIGIN" >"$LOGS/origin.log" 2>&1 &
ORIGIN_PID=$!
PIDS+=("$ORIGIN_PID")
wait_http "http://$ORIGIN/conns" origin "$ORIGIN_PID"

# ---------------------------------------------------------------- tollgate
tg_common() { # tg_common PORT ADMIN_PORT: the part every generated config shares
	cat <<EOF
# generated by bench/run.sh
server:
  listen: "127.0.0.1:$1"
  accept_loops: $BENCH_LOOPS
  idle_timeout: 600s
  access_log: false
admin:
  listen: "127.0.0.1:$2"
upstreams:
  origin:
    targets: ["$ORIGIN"]
    pool: {max_conns_per_target: 1024, max_idle_per_target: 128, idle_timeout: 600s}
    timeouts: {connect: 1s, response_header: 60s}
EOF
}
{
	tg_common "$TG_PORT" "$TG_ADMIN"
	cat <<EOF
clients:
  default: {rate: 100000000/s, burst: 100000000}
routes:
  - name: origin
    match: {path_prefix: /}
    upstream: origin
    limit: false
    timeout: 600s
EOF
} >"$OUT/tollgate.yaml"
"$OUT/tollgate" -check -config "$OUT/tollgate.yaml" >"$LOGS/check-tollgate.log" 2>&1 || {
	log "tollgate -check refused $OUT/tollgate.yaml:"
	cat "$LOGS/check-tollgate.log" >&2
	exit 1
}
env $BENCH_TG_ENV "$OUT/tollgate" -config "$OUT/tollgate.yaml" 2>"$LOGS/tollgate.log" &
TG_PID=$!
PIDS+=("$TG_PID")
wait_http "http://127.0.0.1:$TG_ADMIN/readyz" tollgate "$TG_PID" || {
	tail -n 20 "$LOGS/tollgate.log" >&2
	exit 1
}
# tollgate processes by instance name: "tollgate" (the one above: one route,
# limit: false, no auth) and one per gateway configuration below.
declare -A TGPID=([tollgate]=$TG_PID) TGADMIN=([tollgate]=$TG_ADMIN) TGLOG=([tollgate]=$LOGS/tollgate.log)

# ---------------------------------------------------------------- gateway instances
# Each gateway configuration runs in its own tollgate process with one route
# (path_prefix: /), so that a scenario's requests are byte for byte the ones
# nginx gets and the plain instance above stays exactly as the other modes
# run it. Instances not under load sit in epoll_wait.
JWT_ISSUER=https://bench.tollgate.local
JWT_CLIENT=bench-client

start_tg() { # start_tg NAME: -check, then start $OUT/tollgate-NAME.yaml; failures are noted
	local name=$1
	TGLOG[$name]=$LOGS/tollgate-$name.log
	launch_tg "$name" "$OUT/tollgate-$name.yaml" "${TGADMIN[$name]}" || return 1
	TGPID[$name]=$LAUNCHED_PID
	log "tollgate-$name :${PORT[$name]} pid $LAUNCHED_PID (admin :${TGADMIN[$name]})"
}

jwt_instance() { # jwt_instance NAME ALG KEY_FILE LIMITS_YAML [EXTRA_YAML]: JWT auth, per-client limits
	local port admin
	free_port port
	free_port admin
	PORT[$1]=$port
	TGADMIN[$1]=$admin
	{
		tg_common "$port" "$admin"
		cat <<EOF
auth:
  jwt:
    issuer: "$JWT_ISSUER"
    audiences: [bench]
    algorithms: [$2]
    keys: [{file: "$3"}]
clients:
  # Anyone else gets a small quota: requests not metered as $JWT_CLIENT
  # would turn into 429s (counted as non-2xx) instead of passing unnoticed.
  default: {rate: 10/s, burst: 20}
  $JWT_CLIENT: {rate: 100000000/s, burst: 100000000}
limits:
$4
routes:
  - name: bench
    match: {path_prefix: /}
    upstream: origin
    auth: [jwt]
    timeout: 600s
${5:-}
EOF
	} >"$OUT/tollgate-$1.yaml"
	start_tg "$1"
}

REDIS_PID=""
REDIS_PORT=""
if gw_has jwt-hs256 || gw_has jwt-traced || gw_has jwt-rs256 || gw_has jwt-redis; then
	# A fresh HS256 secret and RSA key pair, and one long-lived token for each.
	"$OUT/jwtgen" -dir "$OUT/jwt" -client "$JWT_CLIENT" -issuer "$JWT_ISSUER" -audience bench >&2
	TOKEN_HS256=$(<"$OUT/jwt/hs256.jwt")
	TOKEN_RS256=$(<"$OUT/jwt/rs256.jwt")
fi
LOCAL_LIMITS="  store: local
  headers: ietf"
if gw_has jwt-hs256; then jwt_instance jwt-hs256 HS256 "$OUT/jwt/hs256.secret" "$LOCAL_LIMITS" || true; fi
# jwt-traced is jwt-hs256 with OpenTelemetry tracing at 1% sampling,
# exporting OTLP/HTTP to the origin (which answers /v1/traces with an
# empty 200): its ratio beside jwt-hs256's is tracing's cost.
if gw_has jwt-traced; then jwt_instance jwt-traced HS256 "$OUT/jwt/hs256.secret" "$LOCAL_LIMITS" "tracing:
  endpoint: \"http://$ORIGIN\"
  sample_ratio: 0.01" || true; fi
if gw_has jwt-rs256; then jwt_instance jwt-rs256 RS256 "$OUT/jwt/rs256.pub.pem" "$LOCAL_LIMITS" || true; fi
if gw_has jwt-redis; then
	free_port REDIS_PORT
	mkdir -p "$OUT/redis"
	redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no \
		--dir "$OUT/redis" --daemonize no >"$LOGS/redis.log" 2>&1 &
	REDIS_PID=$!
	PIDS+=("$REDIS_PID")
	for _ in $(seq 100); do
		[[ $(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null) == PONG ]] && break
		kill -0 "$REDIS_PID" 2>/dev/null || break
		sleep 0.05
	done
	if [[ $(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null) == PONG ]]; then
		log "redis-server 127.0.0.1:$REDIS_PORT pid $REDIS_PID"
		# on_failure: deny, so that Redis failing during the run shows as 429s
		# instead of a silent fall-back to per-instance buckets.
		jwt_instance jwt-redis HS256 "$OUT/jwt/hs256.secret" "  store: redis
  headers: ietf
  redis: {addrs: [\"127.0.0.1:$REDIS_PORT\"], sync_interval: 50ms, on_failure: deny}" || true
	else
		note "redis-server did not answer PING on 127.0.0.1:$REDIS_PORT: $(tail -n 3 "$LOGS/redis.log" | tr '\n' ' ')"
	fi
fi

# ---------------------------------------------------------------- nginx
NGX_DIR=$OUT/nginx
nginx_head "$NGX_DIR" "$BENCH_LOOPS" bench/run.sh
cat >>"$NGX_DIR/nginx.conf" <<EOF
$(nginx_keepalive)
$(nginx_upstream origin "$ORIGIN")
  server {
    # reuseport + deferred = tollgate's SO_REUSEPORT listeners with TCP_DEFER_ACCEPT
    listen 127.0.0.1:$NGX_PORT reuseport deferred backlog=4096;
$(nginx_proxy_fields)
    location / { proxy_pass http://origin; }
    # Large bodies stream through one buffer each way; nginx's default
    # (one page) would cost it a read and a write per 4 KiB.
    location /stream/ {
      proxy_pass http://origin;
      proxy_buffering off;
      proxy_buffer_size $BENCH_NGINX_BUF;
      proxy_buffers 4 $BENCH_NGINX_BUF;
      proxy_busy_buffers_size $BENCH_NGINX_BUF;
    }
    location /upload {
      proxy_pass http://origin;
      proxy_buffering off;
      client_body_buffer_size $BENCH_NGINX_BUF;
    }
  }
}
EOF
"$NGINX" -p "$NGX_DIR" -c "$NGX_DIR/nginx.conf" -e "$NGX_DIR/error.log" -g 'daemon off;' 2>"$LOGS/nginx.log" &
NGX_PID=$!
PIDS+=("$NGX_PID")
wait_http "http://127.0.0.1:$NGX_PORT/bytes/1" nginx "$NGX_PID"
NGX_WORKERS=$(pgrep -P "$NGX_PID" | tr '\n' ' ')

log "origin $ORIGIN pid $ORIGIN_PID; tollgate :$TG_PORT pid $TG_PID (admin :$TG_ADMIN); nginx :$NGX_PORT pid $NGX_PID workers $NGX_WORKERS"

# ---------------------------------------------------------------- /proc helpers
# cpu_pids: processes whose CPU counts (nginx: master and workers);
# rss_pids: processes whose RSS counts (nginx: workers).
# PROXY is nginx or a tollgate instance name (tollgate, jwt-hs256, ...).
cpu_pids() {
	case $1 in
	nginx) echo "$NGX_PID $NGX_WORKERS" ;;
	redis) echo "$REDIS_PID" ;;
	*) echo "${TGPID[$1]:-}" ;;
	esac
}
rss_pids() { if [[ $1 == nginx ]]; then echo "$NGX_WORKERS"; else echo "${TGPID[$1]:-}"; fi; }

cpu_ticks() { proc_ticks $(cpu_pids "$1"); } # utime+stime in clock ticks
rss_kb() { proc_rss_kb $(rss_pids "$1"); }   # rss_kb PROXY: current VmRSS in KiB (nginx: workers summed)

declare -A TG_DEAD=()
alive() { # alive PROXY: false (and noted once) when a tollgate instance has died or never started
	[[ $1 == nginx ]] && return 0
	[[ -n ${TG_DEAD[$1]:-} ]] && return 1
	local pid=${TGPID[$1]:-} what=tollgate
	[[ $1 != tollgate ]] && what=tollgate-$1
	if [[ -z $pid ]]; then
		TG_DEAD[$1]=1
		note "$what is not running (see the notes above)"
		return 1
	fi
	if ! kill -0 "$pid" 2>/dev/null; then
		TG_DEAD[$1]=1
		note "$what (pid $pid) exited during the run; last log lines:"
		tail -n 15 "${TGLOG[$1]}" | sed 's/^/    /' >&2
		return 1
	fi
	return 0
}

spliced() {
	curl -fsS --max-time 2 "http://127.0.0.1:$TG_ADMIN/metrics" 2>/dev/null |
		awk '/^tollgate_spliced_bytes_total/ {s += $NF} END {printf "%.0f", s + 0}'
}

# ---------------------------------------------------------------- correctness
preflight() {
	log "preflight: bodies through each proxy must equal the origin's"
	local want got size p code
	for size in 128 16384 8388608; do
		want=$(curl -fsS "http://$ORIGIN/stream/$size" | md5sum | cut -d' ' -f1)
		for p in tollgate nginx; do
			got=$(curl -sS --max-time 30 "http://127.0.0.1:${PORT[$p]}/stream/$size" | md5sum | cut -d' ' -f1) || true
			[[ $got == "$want" ]] || note "$p: GET /stream/$size returned different bytes (md5 $got, origin $want)"
			got=$(curl -sS --max-time 30 "http://127.0.0.1:${PORT[$p]}/bytes/$size" | md5sum | cut -d' ' -f1) || true
			[[ $got == "$want" ]] || note "$p: GET /bytes/$size returned different bytes (md5 $got, origin $want)"
		done
	done
	head -c 8388608 /dev/urandom >"$OUT/upload-8m.bin"
	want=$(curl -fsS -D - -o /dev/null -T "$OUT/upload-8m.bin" -H 'Expect:' "http://$ORIGIN/upload?crc=1" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-body-crc32" {print $2}')
	for p in tollgate nginx; do
		got=$(curl -sS --max-time 30 -D - -o /dev/null -T "$OUT/upload-8m.bin" -H 'Expect:' "http://127.0.0.1:${PORT[$p]}/upload?crc=1" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-body-crc32" {print $2}') || true
		[[ $got == "$want" ]] || note "$p: PUT /upload (8 MiB, Content-Length) reached the origin with crc32 '$got', want $want"
		got=$(head -c 3000000 "$OUT/upload-8m.bin" | curl -sS --max-time 30 -D - -o /dev/null -T - -H 'Expect:' "http://127.0.0.1:${PORT[$p]}/upload?crc=1" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-body-crc32" {print $2}') || true
		want2=$(head -c 3000000 "$OUT/upload-8m.bin" | curl -fsS -D - -o /dev/null -T - -H 'Expect:' "http://$ORIGIN/upload?crc=1" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-body-crc32" {print $2}')
		[[ $got == "$want2" ]] || note "$p: PUT /upload (3 MB, chunked) reached the origin with crc32 '$got', want $want2"
		# Expect: 100-continue must not cost curl's 1 s fallback wait.
		t=$(curl -sS --max-time 30 -o /dev/null -w '%{time_total}' -T "$OUT/upload-8m.bin" "http://127.0.0.1:${PORT[$p]}/upload") || t=fail
		awk -v t="$t" 'BEGIN {exit !(t != "fail" && t < 0.9)}' ||
			note "$p: PUT /upload with 'Expect: 100-continue' took ${t}s (no timely 100 Continue?)"
	done
}

# ---------------------------------------------------------------- throughput
cat >"$OUT/report.lua" <<'EOF'
-- prints one machine-readable line when wrk is done
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %d %d\n",
    summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status))
end
EOF

wrk_run() { # wrk_run PROXY SIZE SECONDS -> "requests duration_us p50_us p99_us sockerr non2xx"
	wrk -t"$BENCH_THREADS" -c"$BENCH_CONNS" -d"${3}s" --latency -s "$OUT/report.lua" \
		"http://127.0.0.1:${PORT[$1]}/bytes/$2" 2>&1 | awk '/^RESULT/ {print $2, $3, $4, $5, $6, $7}'
}

# Scenarios measured with wrk, by key: a throughput key is a GET size ("128",
# "16384"), a gateway key is "<scenario>/<answer size>". Each has the
# tollgate instance that serves it, the path, the bearer token (or none), the
# wrk script and its label in the table; nginx gets the same requests, sent
# to its one plain location.
declare -A SC_INST=() SC_PATH=() SC_TOKEN=() SC_LUA=() SC_LABEL=() SC_SKIP=()
size_label() { awk -v s="$1" 'BEGIN {print (s + 0 >= 1024 ? (s / 1024) " KiB" : s " B")}'; }
scenario() { # scenario KEY INSTANCE PATH TOKEN LUA LABEL
	SC_INST[$1]=$2
	SC_PATH[$1]=$3
	SC_TOKEN[$1]=$4
	SC_LUA[$1]=$5
	SC_LABEL[$1]=$6
}
for size in "${SIZES[@]}"; do
	scenario "$size" tollgate "/bytes/$size" "" "$OUT/report.lua" "GET $(size_label "$size")"
done

# The gateway scenarios, in table order. The plain GET 128 B is their
# reference: measured in the same rounds in gateway mode (in all, the
# throughput rounds have measured it already).
GW_KEYS=()
POST_BODY=$OUT/post-1k.json
if ((${#GW_SCENARIOS[@]})) && [[ $MODE != all || " ${SIZES[*]} " != *" 128 "* ]]; then
	scenario 128 tollgate /bytes/128 "" "$OUT/report.lua" "GET 128 B"
	GW_KEYS+=(128)
fi
if gw_has jwt-hs256; then
	for size in 128 16384; do
		scenario "jwt-hs256/$size" jwt-hs256 "/bytes/$size" "$TOKEN_HS256" "$OUT/report.lua" "jwt-hs256 GET $(size_label "$size")"
		GW_KEYS+=("jwt-hs256/$size")
	done
fi
if gw_has jwt-traced; then
	scenario jwt-traced/128 jwt-traced /bytes/128 "$TOKEN_HS256" "$OUT/report.lua" "jwt-hs256 + tracing 1% GET 128 B"
	GW_KEYS+=(jwt-traced/128)
fi
if gw_has jwt-rs256; then
	scenario jwt-rs256/128 jwt-rs256 /bytes/128 "$TOKEN_RS256" "$OUT/report.lua" "jwt-rs256 GET 128 B"
	GW_KEYS+=(jwt-rs256/128)
fi
if gw_has jwt-redis; then
	scenario jwt-redis/128 jwt-redis /bytes/128 "$TOKEN_HS256" "$OUT/report.lua" "jwt-redis GET 128 B"
	GW_KEYS+=(jwt-redis/128)
fi
if gw_has post-1k; then
	# 1 KiB of JSON (exactly 1024 bytes), the same for the preflight and wrk
	# (bench/post.lua reads it); the main instance's plain route serves it.
	json_head='{"client":"bench-client","action":"update","items":[1,2,3,4,5,6,7,8],"note":"'
	printf '%s%s"}' "$json_head" "$(printf "%$((1024 - ${#json_head} - 2))s" '' | tr ' ' 'x')" >"$POST_BODY"
	cat "$HERE/post.lua" "$OUT/report.lua" >"$OUT/post-report.lua"
	scenario post-1k/128 tollgate /bytes/128 "" "$OUT/post-report.lua" "post-1k POST 1 KiB JSON"
	GW_KEYS+=(post-1k/128)
fi

inst_of() { if [[ $1 == nginx ]]; then echo nginx; else echo "${SC_INST[$2]}"; fi; } # inst_of SIDE KEY

wrk_scen() { # wrk_scen SIDE KEY SECONDS -> "requests duration_us p50_us p99_us sockerr non2xx"
	local key=$2 port
	if [[ $1 == nginx ]]; then port=$NGX_PORT; else port=${PORT[${SC_INST[$key]}]}; fi
	local args=(-t"$BENCH_THREADS" -c"$BENCH_CONNS" -d"${3}s" --latency -s "${SC_LUA[$key]}")
	[[ -n ${SC_TOKEN[$key]} ]] && args+=(-H "Authorization: Bearer ${SC_TOKEN[$key]}")
	BENCH_POST_BODY=$POST_BODY wrk "${args[@]}" "http://127.0.0.1:$port${SC_PATH[$key]}" 2>&1 |
		awk '/^RESULT/ {print $2, $3, $4, $5, $6, $7}'
}

# tg_counters INSTANCE -> "auth_failures allowed_as_JWT_CLIENT allowed_as_others refused"
tg_counters() { client_counters "127.0.0.1:${TGADMIN[$1]}" "$JWT_CLIENT"; }

redis_commands() { # commands Redis has processed so far
	redis-cli -h 127.0.0.1 -p "$REDIS_PORT" info stats 2>/dev/null | tr -d '\r' |
		awk -F: '$1 == "total_commands_processed" {print $2}'
}

measure() { # measure SIDE KEY ROUND: one wrk run, its CPU and checks, one "tp" line in the results
	local side=$1 key=$2 r=$3 inst c0 c1 res m0="" m1 x0="" x1 k0 k1
	local req dur p50 p99 serr non2 label=${SC_LABEL[$key]}
	inst=$(inst_of "$side" "$key")
	alive "$inst" || return 0
	[[ $side == tollgate && -n ${SC_TOKEN[$key]} ]] && m0=$(tg_counters "$inst")
	[[ $side == tollgate && $inst == jwt-redis ]] && { x0=$(redis_commands); k0=$(cpu_ticks redis); }
	c0=$(cpu_ticks "$inst")
	res=$(wrk_scen "$side" "$key" "$BENCH_SECONDS" || true)
	c1=$(cpu_ticks "$inst")
	[[ -n $x0 ]] && { k1=$(cpu_ticks redis); x1=$(redis_commands); }
	if [[ -z $res ]]; then
		note "$side: wrk produced no result for $label round $r"
		return 0
	fi
	read -r req dur p50 p99 serr non2 <<<"$res"
	echo "tp $side $key $r $req $dur $p50 $p99 $((c1 - c0)) $serr $non2" >>"$RESULTS"
	log "$side $label round $r: $req requests in $((dur / 1000)) ms, p50 ${p50}us p99 ${p99}us, cpu $((c1 - c0)) ticks, socket errors $serr, non-2xx $non2"
	((serr == 0 && non2 == 0)) || note "$side: $label round $r: $serr socket errors, $non2 non-2xx responses"
	if [[ -n $m0 ]]; then
		# Every request authenticated and metered as the named client: no
		# auth failure, no refusal, none admitted as anyone else.
		local af0 al0 ao0 dn0 af1 al1 ao1 dn1
		m1=$(tg_counters "$inst")
		read -r af0 al0 ao0 dn0 <<<"$m0"
		read -r af1 al1 ao1 dn1 <<<"$m1"
		log "tollgate-$inst round $r: auth failures +$((af1 - af0)), admitted as $JWT_CLIENT +$((al1 - al0)), as others +$((ao1 - ao0)), refused +$((dn1 - dn0))"
		if ((af1 - af0 != 0 || ao1 - ao0 != 0 || dn1 - dn0 != 0 || al1 - al0 < req)); then
			note "tollgate-$inst: $label round $r: $req answers, but $((al1 - al0)) admitted as $JWT_CLIENT, $((ao1 - ao0)) as others, $((af1 - af0)) auth failures, $((dn1 - dn0)) refused (tollgate_*_total)"
		fi
	fi
	if [[ -n $x0 ]]; then
		# "before" INFO is counted in the difference: one command less.
		echo "rds $key $r $req $((k1 - k0)) $((x1 - x0 - 1))" >>"$RESULTS"
		log "redis-server during $label round $r: cpu $((k1 - k0)) ticks, $((x1 - x0 - 1)) commands"
	fi
}

throughput() {
	local p size r
	for p in tollgate nginx; do
		alive "$p" || continue
		log "warm-up $p ${BENCH_WARMUP}s"
		wrk_run "$p" 128 "$BENCH_WARMUP" >/dev/null || true
	done
	for ((r = 1; r <= BENCH_ROUNDS; r++)); do
		for size in "${SIZES[@]}"; do
			for p in tollgate nginx; do
				measure "$p" "$size" "$r"
			done
		done
	done
}

# ---------------------------------------------------------------- gateway
# gw_preflight: each gateway scenario's request must get the origin's answer
# through both proxies before it is measured; through tollgate, a JWT route
# must answer 200 with the token (metered as JWT_CLIENT: RateLimit-Policy
# names it) and 401 without it or with a broken signature; the JSON body must
# reach the origin intact; with the Redis store, Redis must hold the
# instance and bucket keys. A scenario that fails is not measured.
gw_preflight() {
	log "gateway preflight: ${GW_KEYS[*]}"
	local key inst p port url code want got ok bad tok rk
	local -a rq
	for key in "${GW_KEYS[@]}"; do
		ok=1
		inst=${SC_INST[$key]}
		if ! alive "$inst"; then
			SC_SKIP[$key]=1
			note "${SC_LABEL[$key]}: not measured (tollgate-$inst is not running)"
			continue
		fi
		rq=()
		[[ $key == post-1k/* ]] && rq=(-X POST --data-binary @"$POST_BODY" -H 'Content-Type: application/json' -H 'Expect:')
		want=$(curl -fsS --max-time 10 "${rq[@]}" "http://$ORIGIN${SC_PATH[$key]}" | md5sum | cut -d' ' -f1) || true
		tok=${SC_TOKEN[$key]}
		[[ -n $tok ]] && rq+=(-H "Authorization: Bearer $tok")
		for p in tollgate nginx; do
			if [[ $p == nginx ]]; then port=$NGX_PORT; else port=${PORT[$inst]}; fi
			url="http://127.0.0.1:$port${SC_PATH[$key]}"
			: >"$OUT/preflight.head"
			: >"$OUT/preflight.body"
			code=$(curl -sS --max-time 10 -D "$OUT/preflight.head" -o "$OUT/preflight.body" -w '%{http_code}' "${rq[@]}" "$url" 2>&1) || true
			got=$(md5sum <"$OUT/preflight.body" | cut -d' ' -f1)
			if [[ $code != 200 || $got != "$want" ]]; then
				ok=0
				note "$p: ${SC_LABEL[$key]}: status $code, body md5 $got (origin $want): $(head -c 200 "$OUT/preflight.body" | tr '\n' ' ')"
			fi
			[[ $p == tollgate && -n $tok ]] || continue
			if ! tr -d '\r' <"$OUT/preflight.head" | grep -qi "^ratelimit-policy: *\"$JWT_CLIENT\""; then
				ok=0
				note "$p: ${SC_LABEL[$key]}: not metered as $JWT_CLIENT: '$(tr -d '\r' <"$OUT/preflight.head" | grep -i '^ratelimit' | tr '\n' ' ')'"
			fi
			code=$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' "${rq[@]:0:${#rq[@]}-2}" "$url" 2>&1) || true
			[[ $code == 401 ]] || { ok=0; note "$p: ${SC_LABEL[$key]} without a token: status $code, want 401"; }
			bad=${tok%????}AAAA
			[[ $bad == "$tok" ]] && bad=${tok%????}BBBB
			code=$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $bad" "$url" 2>&1) || true
			[[ $code == 401 ]] || { ok=0; note "$p: ${SC_LABEL[$key]} with a broken signature: status $code, want 401"; }
		done
		if [[ $key == post-1k/* ]]; then
			want=$(curl -fsS --max-time 10 -D - -o /dev/null --data-binary @"$POST_BODY" -H 'Expect:' "http://$ORIGIN/upload?crc=1" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-body-crc32" {print $2}') || true
			for p in tollgate nginx; do
				if [[ $p == nginx ]]; then port=$NGX_PORT; else port=${PORT[$inst]}; fi
				got=$(curl -sS --max-time 10 -D - -o /dev/null --data-binary @"$POST_BODY" -H 'Content-Type: application/json' -H 'Expect:' "http://127.0.0.1:$port/upload?crc=1" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-body-crc32" {print $2}') || true
				[[ -n $want && $got == "$want" ]] || { ok=0; note "$p: ${SC_LABEL[$key]}: the JSON body reached the origin with crc32 '$got', want '$want'"; }
			done
		fi
		if [[ $inst == jwt-redis ]]; then
			sleep 0.3 # one sync_interval and more: the lease is settled in Redis
			rk=$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" --scan --pattern 'tollgate:rl:*' 2>/dev/null | grep -vc '^tollgate:rl:instances$' || true)
			code=$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" zcard tollgate:rl:instances 2>/dev/null || true)
			log "redis: $rk bucket key(s), ${code:-?} instance(s) in tollgate:rl:instances"
			if [[ ${code:-0} -lt 1 || ${rk:-0} -lt 1 ]]; then
				ok=0
				note "${SC_LABEL[$key]}: Redis holds ${rk:-0} bucket keys and ${code:-0} instances: is the Redis store in use?"
			fi
		fi
		if ((ok)); then
			log "preflight ${SC_LABEL[$key]}: ok"
		else
			SC_SKIP[$key]=1
			note "${SC_LABEL[$key]}: not measured (preflight failed)"
		fi
	done
}

gateway() {
	((${#GW_KEYS[@]})) || return 0
	gw_preflight
	local key p r
	for key in "${GW_KEYS[@]}"; do
		[[ -n ${SC_SKIP[$key]:-} ]] && continue
		for p in tollgate nginx; do
			alive "$(inst_of "$p" "$key")" || continue
			log "warm-up $p ${SC_LABEL[$key]} ${BENCH_WARMUP}s"
			wrk_scen "$p" "$key" "$BENCH_WARMUP" >/dev/null || true
		done
	done
	for ((r = 1; r <= BENCH_ROUNDS; r++)); do
		for key in "${GW_KEYS[@]}"; do
			[[ -n ${SC_SKIP[$key]:-} ]] && continue
			for p in tollgate nginx; do
				measure "$p" "$key" "$r"
			done
		done
	done
}

# ---------------------------------------------------------------- big transfers
peak_reset() { # peak_reset PROXY: VmHWM := VmRSS (clear_refs 5), so the peak is this transfer's
	local pid
	for pid in $(rss_pids "$1"); do echo 5 >"/proc/$pid/clear_refs" 2>/dev/null || true; done
}

peak_kb() { # peak_kb PROXY: sum of VmHWM (peak RSS since peak_reset) in KiB
	local pid k v u total=0
	for pid in $(rss_pids "$1"); do
		while read -r k v u; do
			[[ $k == VmHWM: ]] && total=$((total + v))
		done <"/proc/$pid/status" 2>/dev/null || true
	done
	echo "$total"
}

transfer() { # transfer PROXY down|up ROUND
	local p=$1 dir=$2 r=$3 url out c0 c1 rss0 s0 s1 sp=-1 ok=1 code size wall
	url="http://127.0.0.1:${PORT[$p]}"
	# Peak RSS from the kernel's high-water mark, reset before the transfer:
	# no sampler loading the machine while CPU is measured.
	rss0=$(rss_kb "$p")
	peak_reset "$p"
	[[ $p == tollgate ]] && s0=$(spliced)
	c0=$(cpu_ticks "$p")
	if [[ $dir == down ]]; then
		out=$(curl -sS --max-time 600 -o /dev/null -w '%{http_code} %{size_download} %{time_total}' "$url/stream/$BENCH_BIG_BYTES" 2>"$OUT/curl.err") || ok=0
		read -r code size wall <<<"$out"
	else
		out=$(curl -sS --max-time 600 -T "$OUT/zero.bin" -H 'Expect:' -o "$OUT/upload.body" -w '%{http_code} %{size_upload} %{time_total}' "$url/upload" 2>"$OUT/curl.err") || ok=0
		read -r code size wall <<<"$out"
		[[ $(cat "$OUT/upload.body" 2>/dev/null) == "$BENCH_BIG_BYTES" ]] || {
			ok=0
			note "$p: upload round $r: origin counted '$(head -c 100 "$OUT/upload.body" 2>/dev/null)' bytes, sent $BENCH_BIG_BYTES"
		}
	fi
	c1=$(cpu_ticks "$p")
	[[ $p == tollgate ]] && { s1=$(spliced); sp=$((s1 - s0)); }
	if [[ ${code:-000} != 200 || ${size:-0} != "$BENCH_BIG_BYTES" ]]; then
		ok=0
		note "$p: ${dir}load round $r: status ${code:-none}, $size of $BENCH_BIG_BYTES bytes, curl: $(head -c 200 "$OUT/curl.err")"
	fi
	local growth=$(($(peak_kb "$p") - rss0))
	echo "xfer $p $dir $r $ok ${size:-0} ${wall:-0} $((c1 - c0)) $growth $sp" >>"$RESULTS"
	log "$p ${dir}load round $r: ok=$ok ${wall}s, cpu $((c1 - c0)) ticks, RSS +${growth} KiB, spliced $sp"
}

transfers() {
	truncate -s "$BENCH_BIG_BYTES" "$OUT/zero.bin"
	# Read the sparse files once first: the first read of a fresh one costs
	# curl ~2 s of system time, which would land on whichever proxy goes first.
	cat "$OUT/zero.bin" >/dev/null
	local r p dir w
	# One unmeasured transfer each way per proxy (the wall time is logged:
	# a slow first transfer is worth knowing about).
	truncate -s $((BENCH_BIG_BYTES / 4)) "$OUT/warm.bin"
	cat "$OUT/warm.bin" >/dev/null
	for p in tollgate nginx; do
		alive "$p" || continue
		w=$(curl -sS --max-time 600 -o /dev/null -w '%{time_total}' "http://127.0.0.1:${PORT[$p]}/stream/$((BENCH_BIG_BYTES / 4))" || echo fail)
		log "warm-up $p download of $((BENCH_BIG_BYTES / 4)) bytes: ${w}s"
		w=$(curl -sS --max-time 600 -T "$OUT/warm.bin" -H 'Expect:' -o /dev/null -w '%{time_total}' "http://127.0.0.1:${PORT[$p]}/upload" || echo fail)
		log "warm-up $p upload of $((BENCH_BIG_BYTES / 4)) bytes: ${w}s"
	done
	rm -f "$OUT/warm.bin"
	for ((r = 1; r <= BENCH_ROUNDS; r++)); do
		for dir in down up; do
			for p in tollgate nginx; do
				alive "$p" || continue
				transfer "$p" "$dir" "$r"
			done
		done
	done
	rm -f "$OUT/zero.bin"
}

# ---------------------------------------------------------------- idle keep-alive
idle() {
	local p before after line
	for p in tollgate nginx; do
		alive "$p" || continue
		sleep 1
		before=$(rss_kb "$p")
		"$OUT/idleconns" -addr "127.0.0.1:${PORT[$p]}" -n "$IDLE_N" -hold "${BENCH_IDLE_HOLD}s" >"$OUT/idle-$p.out" 2>"$LOGS/idleconns-$p.log" &
		local ipid=$!
		PIDS+=("$ipid")
		for _ in $(seq 1200); do
			grep -q '^ready' "$OUT/idle-$p.out" 2>/dev/null && break
			kill -0 "$ipid" 2>/dev/null || break
			sleep 0.1
		done
		sleep 1.5
		after=$(rss_kb "$p")
		wait "$ipid" || true
		local ready check_ok check_failed
		ready=$(sed -n 's/^ready n=\([0-9]*\).*/\1/p' "$OUT/idle-$p.out")
		check_ok=$(sed -n 's/^check ok=\([0-9]*\).*/\1/p' "$OUT/idle-$p.out")
		check_failed=$(sed -n 's/^check ok=[0-9]* failed=\([0-9]*\).*/\1/p' "$OUT/idle-$p.out")
		echo "idle $p $IDLE_N ${ready:-0} $before $after ${check_ok:-0} ${check_failed:-0}" >>"$RESULTS"
		log "$p idle: $(tr '\n' ' ' <"$OUT/idle-$p.out") RSS $before -> $after KiB"
		if [[ ${ready:-0} != "$IDLE_N" || ${check_failed:-1} != 0 ]]; then
			note "$p: idle connections: $(tr '\n' ' ' <"$OUT/idle-$p.out")$(head -c 300 "$LOGS/idleconns-$p.log")"
		fi
	done
}

# ---------------------------------------------------------------- syscalls
syscalls() {
	local p size before after spid pids wpid
	for p in tollgate nginx; do wrk_run "$p" 128 1 >/dev/null || true; done
	for size in "${SIZES[@]}"; do
		for p in tollgate nginx; do
			alive "$p" || continue
			pids=$(rss_pids "$p")
			# -f with -p attaches every thread of the process (Go's Ms too).
			strace -c -f -o "$OUT/strace-$p-$size.txt" $(printf -- '-p %s ' $pids) 2>"$LOGS/strace-$p-$size.log" &
			spid=$!
			PIDS+=("$spid")
			sleep 1
			before=$(curl -fsS "http://$ORIGIN/requests")
			# wrk cannot stop after N requests by itself: watch the origin's
			# request counter and interrupt wrk when it is reached.
			wrk -t"$BENCH_THREADS" -c"$BENCH_CONNS" -d300s \
				"http://127.0.0.1:${PORT[$p]}/bytes/$size" >"$LOGS/wrk-strace-$p-$size.log" 2>&1 &
			wpid=$!
			PIDS+=("$wpid")
			while kill -0 "$wpid" 2>/dev/null &&
				(($(curl -fsS "http://$ORIGIN/requests") - before < BENCH_SYSCALL_REQUESTS)); do
				sleep 0.05
			done
			kill -INT "$wpid" 2>/dev/null || true
			wait "$wpid" 2>/dev/null || true
			sleep 0.5
			after=$(curl -fsS "http://$ORIGIN/requests")
			kill -INT "$spid" 2>/dev/null || true
			wait "$spid" 2>/dev/null || true
			local total
			# "% time, seconds, usecs/call, calls, [errors,] total": calls is the 4th.
			total=$(awk '$NF == "total" {print $4}' "$OUT/strace-$p-$size.txt")
			echo "sys $p $size $((after - before)) ${total:-0}" >>"$RESULTS"
			log "$p /bytes/$size: $((after - before)) requests, ${total:-?} syscalls"
		done
	done
}

# syscalls_perf counts syscalls with perf's raw_syscalls:sys_enter tracepoint
# (no ptrace stop per call, so the proxies run at full speed and batch as they
# would) over a fixed wrk run; the divisor is the origin's request counter.
# Skipped when perf or its tracepoints are not available.
syscalls_perf() {
	perf stat -e raw_syscalls:sys_enter true >/dev/null 2>&1 || {
		note "perf tracepoints unavailable: only strace counts shown"
		return
	}
	local p size before after pids
	for size in "${SIZES[@]}"; do
		for p in tollgate nginx; do
			alive "$p" || continue
			pids=$(rss_pids "$p" | tr ' ' ',')
			before=$(curl -fsS "http://$ORIGIN/requests")
			perf stat -x, -e raw_syscalls:sys_enter -p "$pids" -o "$OUT/perf-$p-$size.txt" -- \
				wrk -t"$BENCH_THREADS" -c"$BENCH_CONNS" -d5s "http://127.0.0.1:${PORT[$p]}/bytes/$size" \
				>"$LOGS/wrk-perf-$p-$size.log" 2>&1 || true
			after=$(curl -fsS "http://$ORIGIN/requests")
			local total
			total=$(awk -F, '/raw_syscalls:sys_enter/ {print $1}' "$OUT/perf-$p-$size.txt")
			echo "psys $p $size $((after - before)) ${total:-0}" >>"$RESULTS"
			log "$p /bytes/$size (perf): $((after - before)) requests, ${total:-?} syscalls"
		done
	done
}

# ---------------------------------------------------------------- report
table() {
	# wrk scenarios in table order (throughput sizes, then the gateway keys),
	# each once, with their labels
	local keys=() labels="" k
	for k in "${SIZES[@]}" "${GW_KEYS[@]}"; do
		[[ " ${keys[*]} " == *" $k "* ]] && continue
		keys+=("$k")
		labels+="${SC_LABEL[$k]}|"
	done
	awk -v clk="$CLK_TCK" -v big="$BENCH_BIG_BYTES" -v idle_n="$IDLE_N" -v sizelist="${SIZES[*]}" \
		-v keylist="${keys[*]}" -v labellist="$labels" "$TABLE_AWK"'
	$1 == "rds" && $4 > 0 {
		k = "redis" SUBSEP $2; i = ++cnt[k]
		rcpu[k, i] = $5 / clk / $4 * 1e5; rcmd[k, i] = $6 / $4 * 1000; rds[$2] = 1
	}
	$1 == "xfer" && $5 == 1 {
		k = $2 SUBSEP $3; xc[k]++; wall[k] += $7; xcpu[k] += $8 / clk; rss[k] += $9 / 1024
		if ($10 >= 0) { sp[$3] += $10; spb[$3] += $6 }
		xf[$3] = 1
	}
	$1 == "idle" && $5 > 0 { ik[$2] = ($6 - $5) / $3; iseen = 1 }
	$1 == "sys" && $4 > 0 { sc[$2 SUBSEP $3] = $5 / $4; sys[$3] = 1 }
	$1 == "psys" && $4 > 0 { pc[$2 SUBSEP $3] = $5 / $4; psys[$3] = 1 }
	function get(a, c, k, f) { return (k in c) && c[k] > 0 ? a[k] / c[k] * f : "" }
	END {
		printf "%-47s %12s %12s %9s\n", "scenario", "tollgate", "nginx", "ratio"
		nk = split(keylist, kord, " "); split(labellist, lord, "|")
		for (i = 1; i <= nk; i++) {
			s = kord[i]; if (!(s in tp)) continue
			lbl = lord[i]
			T = "tollgate" SUBSEP s; N = "nginx" SUBSEP s
			row(lbl " requests/s", med(rps, T), med(rps, N))
			row(lbl " p50 latency ms", med(p50, T), med(p50, N))
			row(lbl " p99 latency ms", med(p99, T), med(p99, N))
			row(lbl " proxy CPU s / 100k req", med(cpu, T), med(cpu, N))
		}
		n = split(sizelist, ord, " ")
		gib = sprintf("%.3g GiB", big / 1073741824)
		split("down up", dirs, " ")
		for (i = 1; i <= 2; i++) {
			d = dirs[i]; if (!(d in xf)) continue
			T = "tollgate" SUBSEP d; N = "nginx" SUBSEP d; w = d == "down" ? "download" : "upload"
			row(gib " " w " wall s", get(wall, xc, T, 1), get(wall, xc, N, 1))
			row(gib " " w " proxy CPU s", get(xcpu, xc, T, 1), get(xcpu, xc, N, 1))
			row(gib " " w " proxy RSS growth MiB", get(rss, xc, T, 1), get(rss, xc, N, 1), 1)
		}
		if (iseen) row("idle keep-alive RSS KiB/conn (n=" idle_n ")", ("tollgate" in ik) ? ik["tollgate"] : "", ("nginx" in ik) ? ik["nginx"] : "")
		for (i = 1; i <= n; i++) if ((s = ord[i]) in sys) row("syscalls / request, GET " (s >= 1024 ? (s / 1024) " KiB" : s " B") " (strace)", sc["tollgate" SUBSEP s], sc["nginx" SUBSEP s])
		for (i = 1; i <= n; i++) if ((s = ord[i]) in psys) row("syscalls / request, GET " (s >= 1024 ? (s / 1024) " KiB" : s " B") " (perf)", pc["tollgate" SUBSEP s], pc["nginx" SUBSEP s])
		for (d in sp) if (spb[d] > 0) printf "tollgate_spliced_bytes_total / bytes moved, %sload: %.1f%%\n", d, 100 * sp[d] / spb[d]
		for (i = 1; i <= nk; i++) if ((s = kord[i]) in rds)
			printf "%s, redis-server (not in the tollgate column): CPU %s s / 100k req, %s commands / 1000 req\n", lord[i], fmt(med(rcpu, "redis" SUBSEP s)), fmt(med(rcmd, "redis" SUBSEP s))
		if (anytp) {
			if (!errsum) print "non-2xx responses and socket errors in the measured wrk runs: none"
			else for (i = 1; i <= nk; i++) for (j = 1; j <= 2; j++) {
				side = j == 1 ? "tollgate" : "nginx"
				if (errs[side SUBSEP kord[i]] > 0) printf "non-2xx responses + socket errors, %s, %s: %d (see notes)\n", lord[i], side, errs[side SUBSEP kord[i]]
			}
		}
	}' "$RESULTS"
}

# h2_part runs bench/h2.sh (its own origins, tollgate and nginx): its
# table rows go under this table, its notes to the notes.
H2_ROWS=""
h2_part() {
	local out line
	out=$(H2_EMBED=1 "$HERE/h2.sh") || note "bench/h2.sh failed (exit $?); its log lines are above"
	while IFS= read -r line; do
		if [[ $line == "note: "* ]]; then NOTES+=("h2: ${line#note: }"); else H2_ROWS+="$line"$'\n'; fi
	done <<<"$out"
}

log "mode $MODE; results in $RESULTS"
# Other work on the machine shows in every number: the load average before
# and after goes into the table's header.
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
case $MODE in
all)
	preflight
	throughput
	gateway
	transfers
	idle
	;;
throughput) throughput ;;
gateway) gateway ;;
transfers) transfers ;;
idle) idle ;;
syscalls)
	syscalls
	syscalls_perf
	;;
esac
for k in "${!TGPID[@]}"; do alive "$k" || true; done
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)
if [[ $MODE == all ]]; then
	stop_all # the processes above are done; h2 starts its own
	h2_part
fi

{
	echo
	echo "tollgate/nginx, $(date -u '+%Y-%m-%d %H:%M UTC'), tollgate $REV, $("$NGINX" -v 2>&1 | sed 's/.*version: //'), $(nproc) CPUs"
	echo "mode=$MODE BENCH_SECONDS=$BENCH_SECONDS BENCH_ROUNDS=$BENCH_ROUNDS BENCH_NGINX_BUF=$BENCH_NGINX_BUF conns=$BENCH_CONNS wrk threads=$BENCH_THREADS accept_loops=worker_processes=$BENCH_LOOPS"
	echo "load average (1, 5, 15 min) before: $LOAD0, after: $LOAD1"
	[[ $MODE == all || $MODE == throughput || $MODE == gateway ]] &&
		echo "wrk rows: median of the $BENCH_ROUNDS rounds of each proxy (tollgate, then nginx, alternating)${GW_KEYS[*]:+; gateway scenarios: ${GW_SCENARIOS[*]}, nginx proxying plainly}"
	echo
	table
	[[ -n $H2_ROWS ]] && printf '%s' "$H2_ROWS"
	if [[ $MODE == syscalls ]]; then
		for f in "$OUT"/strace-*.txt; do
			echo
			echo "top syscalls, $(basename "$f" .txt) (calls over all requests of the run):"
			awk '$NF != "total" && $4 ~ /^[0-9]+$/ {print $4, $NF}' "$f" | sort -rn | head -n 8 | awk '{printf "  %-18s %8d\n", $2, $1}'
		done
	fi
	if ((${#NOTES[@]})); then
		echo
		echo "notes:"
		printf '  - %s\n' "${NOTES[@]}"
	fi
} | tee "$OUT/table-$STAMP.txt"
if [[ $MODE == all ]]; then
	# the processes above are stopped (h2's too); identity starts its own
	"$HERE/identity.sh" || log "bench/identity.sh failed (exit $?)"
fi
