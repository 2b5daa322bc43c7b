#!/usr/bin/env bash
# HTTP/2 and gRPC: tollgate against nginx. See bench/README.md (HTTP/2 and gRPC).
#
#   bench/h2.sh [all|h2c-get|h2c-jwt|grpc-unary|idle]     (bench/run.sh h2 runs it)
#
# h2c-get: h2load small GETs over h2c (prior knowledge), H2_STREAMS streams
# on each of H2_CONNS connections, both proxies to the same HTTP/1.1 origin;
# h2c-jwt: the same with a JWT HS256 and per-client limits in tollgate;
# grpc-unary: ghz unary calls (grpc.testing.TestService/UnaryCall) to a
# grpc-go origin over h2c, tollgate with JWT and per-client limits, nginx
# with grpc_pass; idle: memory per idle HTTP/2 connection. A/B rounds
# interleaved; one table of tollgate/nginx ratios in run.sh's format. With
# H2_EMBED=1 (bench/run.sh all) only the rows are printed, then the notes
# as "note: ..." lines.
# Everything listens on loopback on free ports; every process started here
# is stopped by PID on exit.
set -euo pipefail

MODE=${1:-all}
case $MODE in all | h2c-get | h2c-jwt | grpc-unary | idle) ;; *)
	echo "usage: $0 [all|h2c-get|h2c-jwt|grpc-unary|idle]" >&2
	exit 2
	;;
esac

BENCH_SECONDS=${BENCH_SECONDS:-10}       # per h2load / ghz run
BENCH_ROUNDS=${BENCH_ROUNDS:-2}          # A/B rounds per scenario
BENCH_WARMUP=${BENCH_WARMUP:-2}          # seconds of unmeasured load per proxy and scenario
BENCH_LOOPS=${BENCH_LOOPS:-$(nproc)}     # tollgate accept_loops = nginx worker_processes
BENCH_THREADS=${BENCH_THREADS:-$(nproc)} # h2load threads
BENCH_TG_ENV=${BENCH_TG_ENV:-}           # extra environment for tollgate
H2_CONNS=${H2_CONNS:-4}                  # h2load connections
H2_STREAMS=${H2_STREAMS:-50}             # h2load concurrent streams per connection
H2_SIZE=${H2_SIZE:-128}                  # GET /bytes/N and the gRPC response_size
GRPC_CONC=${GRPC_CONC:-50}               # ghz concurrent calls
GRPC_CONNS=${GRPC_CONNS:-4}              # ghz connections
H2_IDLE_CONNS=${H2_IDLE_CONNS:-2000}     # idle HTTP/2 connections
H2_IDLE_HOLD=${H2_IDLE_HOLD:-4}          # seconds they stay idle
H2_EMBED=${H2_EMBED:-}
GHZ_VERSION=v0.93.0

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
OUT=$HERE/out/h2
LOGS=$OUT/logs
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RESULTS=$OUT/results-$STAMP.txt
CLK_TCK=$(getconf CLK_TCK)
mkdir -p "$OUT" "$LOGS"
: >"$RESULTS"

LOG_TAG=h2
. "$HERE/lib.sh" # log, PIDS and the cleanup trap, free_port, wait_http, proc_ticks, proc_rss_kb, client_counters

if [[ $MODE == all ]]; then SCENARIOS=(h2c-get h2c-jwt grpc-unary idle); else SCENARIOS=("$MODE"); fi
has() { [[ " ${SCENARIOS[*]} " == *" $1 "* ]]; }

# ---------------------------------------------------------------- tools
missing=()
declare -A pkg=([nginx]=nginx [h2load]=nghttp2-client [curl]=curl)
for t in nginx h2load curl; do command -v "$t" >/dev/null 2>&1 || missing+=("${pkg[$t]}"); done
if ((${#missing[@]})); then
	log "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y "${missing[@]}" >/dev/null 2>&1 ||
		{ apt-get update >/dev/null && apt-get install -y "${missing[@]}" >/dev/null; }
fi
NGINX=$(command -v nginx)
GHZ=$(command -v ghz || echo "$(go env GOPATH)/bin/ghz")
if [[ ! -x $GHZ ]]; then
	log "installing ghz $GHZ_VERSION"
	go install "github.com/bojand/ghz/cmd/ghz@$GHZ_VERSION"
fi
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE=$(ulimit -n)
IDLE_N=$H2_IDLE_CONNS
if ((IDLE_N > NOFILE - 1000)); then
	IDLE_N=$((NOFILE - 1000))
	note "idle HTTP/2 connections sized to $IDLE_N to fit the open-files limit ($NOFILE)"
fi

# ---------------------------------------------------------------- build
log "building into $OUT"
(cd "$ROOT" && go build -o "$OUT/tollgate" ./cmd/tollgate &&
	go build -o "$OUT/origin" ./bench/origin &&
	go build -o "$OUT/grpcorigin" ./bench/grpcorigin &&
	go build -o "$OUT/idleconns" ./bench/idleconns &&
	go build -o "$OUT/jwtgen" ./bench/jwtgen)
"$OUT/grpcorigin" -protoset "$OUT/grpc_testing.protoset"
REV=$(bench_rev)

# ---------------------------------------------------------------- origins
free_port ORIGIN_PORT
free_port GRPC_PORT
ORIGIN=127.0.0.1:$ORIGIN_PORT
GRPC_ORIGIN=127.0.0.1:$GRPC_PORT
"$OUT/origin" -listen "$ORIGIN" >"$LOGS/origin.log" 2>&1 &
PIDS+=($!)
wait_http "http://$ORIGIN/conns" origin $!
"$OUT/grpcorigin" -listen "$GRPC_ORIGIN" >"$LOGS/grpcorigin.log" 2>&1 &
GRPC_PID=$!
PIDS+=("$GRPC_PID")
for _ in $(seq 100); do
	grep -q serving "$LOGS/grpcorigin.log" 2>/dev/null && break
	kill -0 "$GRPC_PID" 2>/dev/null || { log "grpcorigin exited: $(cat "$LOGS/grpcorigin.log")"; exit 1; }
	sleep 0.1
done

# ---------------------------------------------------------------- tollgate
# Two instances: "plain" (one route to the origin, limit: false, no auth)
# and "jwt" (JWT HS256 and per-client limits on every route: the gRPC
# service to the gRPC origin over h2c, everything else to the origin).
JWT_ISSUER=https://bench.tollgate.local
JWT_CLIENT=bench-client
"$OUT/jwtgen" -dir "$OUT/jwt" -client "$JWT_CLIENT" -issuer "$JWT_ISSUER" -audience bench >&2
TOKEN=$(<"$OUT/jwt/hs256.jwt")
declare -A TGPID=() TGPORT=() TGADMIN=()
tg_config() { # tg_config NAME: the instance's configuration on stdout
	cat <<EOF
# generated by bench/h2.sh
server:
  listen: "127.0.0.1:${TGPORT[$1]}"
  accept_loops: $BENCH_LOOPS
  idle_timeout: 600s
  access_log: false
admin:
  listen: "127.0.0.1:${TGADMIN[$1]}"
upstreams:
  origin:
    targets: ["$ORIGIN"]
    pool: {max_conns_per_target: 1024, max_idle_per_target: 256, idle_timeout: 600s}
    timeouts: {connect: 1s, response_header: 60s}
EOF
	if [[ $1 == plain ]]; then
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
		return
	fi
	cat <<EOF
  grpc:
    targets: ["$GRPC_ORIGIN"]
    protocol: h2c
    timeouts: {connect: 1s, response_header: 60s}
auth:
  jwt:
    issuer: "$JWT_ISSUER"
    audiences: [bench]
    algorithms: [HS256]
    keys: [{file: "$OUT/jwt/hs256.secret"}]
clients:
  # Anyone else gets a small quota: calls not metered as $JWT_CLIENT
  # turn into refusals instead of passing unnoticed.
  default: {rate: 10/s, burst: 20}
  $JWT_CLIENT: {rate: 100000000/s, burst: 100000000}
limits:
  store: local
  headers: ietf
routes:
  - name: grpc
    match: {path_prefix: /grpc.testing.TestService/}
    upstream: grpc
    auth: [jwt]
    timeout: 600s
  - name: bench
    match: {path_prefix: /}
    upstream: origin
    auth: [jwt]
    timeout: 600s
EOF
}
start_tg() { # start_tg NAME: write, -check and start the instance; failures are noted
	local name=$1 cfg=$OUT/tollgate-$1.yaml port admin
	free_port port
	free_port admin
	TGPORT[$name]=$port
	TGADMIN[$name]=$admin
	tg_config "$name" >"$cfg"
	launch_tg "$name" "$cfg" "$admin" || return 1
	TGPID[$name]=$LAUNCHED_PID
	log "tollgate-$name :$port pid $LAUNCHED_PID (admin :$admin)"
}
start_tg plain || true
if has h2c-jwt || has grpc-unary; then start_tg jwt || true; fi

# ---------------------------------------------------------------- nginx
# One server block: h2c with prior knowledge (listen ... http2 without
# ssl), plain HTTP/1.1 with keep-alive to the origin (as in run.sh), gRPC
# with grpc_pass over a kept-alive h2c connection pool.
free_port NGX_PORT
NGX_DIR=$OUT/nginx
nginx_head "$NGX_DIR" "$BENCH_LOOPS" bench/h2.sh
cat >>"$NGX_DIR/nginx.conf" <<EOF
$(nginx_keepalive)
$(nginx_upstream origin "$ORIGIN")
$(nginx_upstream grpcorigin "$GRPC_ORIGIN")
  server {
    listen 127.0.0.1:$NGX_PORT http2 reuseport deferred backlog=4096;
$(nginx_proxy_fields)
    location / { proxy_pass http://origin; }
    location /grpc.testing.TestService/ {
      grpc_pass grpc://grpcorigin;
      grpc_read_timeout 600s;
      grpc_send_timeout 600s;
    }
  }
}
EOF
"$NGINX" -p "$NGX_DIR" -c "$NGX_DIR/nginx.conf" -e "$NGX_DIR/error.log" -g 'daemon off;' 2>"$LOGS/nginx.log" &
NGX_PID=$!
PIDS+=("$NGX_PID")
for _ in $(seq 100); do
	curl -fsS -o /dev/null --http2-prior-knowledge --max-time 1 "http://127.0.0.1:$NGX_PORT/bytes/1" 2>/dev/null && break
	kill -0 "$NGX_PID" 2>/dev/null || { log "nginx exited: $(cat "$LOGS/nginx.log")"; exit 1; }
	sleep 0.1
done
NGX_WORKERS=$(pgrep -P "$NGX_PID" | tr '\n' ' ')
log "origin $ORIGIN, grpcorigin $GRPC_ORIGIN pid $GRPC_PID, nginx :$NGX_PORT pid $NGX_PID workers $NGX_WORKERS"

# ---------------------------------------------------------------- scenarios
# Each scenario has the tollgate instance that serves it, a label, and
# whether it carries the token. SIDE is tollgate or nginx.
declare -A SC_INST=([h2c-get]=plain [h2c-jwt]=jwt [grpc-unary]=jwt) SC_SKIP=()
declare -A SC_LABEL=([h2c-get]="h2c GET $H2_SIZE B" [h2c-jwt]="h2c jwt-hs256 GET $H2_SIZE B" [grpc-unary]="gRPC jwt-hs256 $H2_SIZE B")
KEYS=()
for k in h2c-get h2c-jwt grpc-unary; do has "$k" && KEYS+=("$k"); done

port_of() { if [[ $1 == nginx ]]; then echo "$NGX_PORT"; else echo "${TGPORT[${SC_INST[$2]}]:-}"; fi; } # port_of SIDE KEY
pids_of() { if [[ $1 == nginx ]]; then echo "$NGX_PID $NGX_WORKERS"; else echo "${TGPID[${SC_INST[$2]}]:-}"; fi; }
rss_pids_of() { if [[ $1 == nginx ]]; then echo "$NGX_WORKERS"; else echo "${TGPID[$2]:-}"; fi; } # rss_pids_of SIDE INSTANCE

GHZ_CALL=(--insecure --protoset "$OUT/grpc_testing.protoset" --call grpc.testing.TestService/UnaryCall
	-d "{\"response_size\":$H2_SIZE}" --format json)
ghz_json() { # ghz_json FIELD < json: a number from ghz's JSON report
	case $1 in
	p50 | p99) grep -o "{\"percentage\":${1#p},\"latency\":[0-9]*}" | head -n 1 | grep -o '[0-9]*}$' | tr -d '}' ;;
	ok) grep -o '"statusCodeDistribution":{[^}]*}' | grep -o '"OK":[0-9]*' | cut -d: -f2 ;;
	*) grep -o "\"$1\":[0-9.]*" | head -n 1 | cut -d: -f2 ;;
	esac
}

# load SIDE KEY SECONDS -> "requests duration_us p50_us p99_us sockerr failed"
# (the "tp" fields of run.sh's results: failed is non-2xx, or calls not OK)
load() {
	local side=$1 key=$2 secs=$3 port res=$OUT/load.out lf=$OUT/h2load.log
	port=$(port_of "$side" "$key")
	if [[ $key == grpc-unary ]]; then
		"$GHZ" "${GHZ_CALL[@]}" -z "${secs}s" -c "$GRPC_CONC" --connections "$GRPC_CONNS" \
			--metadata "{\"authorization\":\"Bearer $TOKEN\"}" "127.0.0.1:$port" >"$res" 2>"$LOGS/ghz.err" || true
		local count ok total p50 p99
		count=$(ghz_json count <"$res")
		ok=$(ghz_json ok <"$res")
		total=$(ghz_json total <"$res")
		p50=$(ghz_json p50 <"$res")
		p99=$(ghz_json p99 <"$res")
		[[ -n $count && -n $total ]] || return 0
		# ghz ends a -z run by closing its connections: the calls then in
		# flight (at most GRPC_CONC) fail with "transport is closing" or
		# "the client connection is closing"; they are not the proxy's.
		local closing
		closing=$(grep -o '"errorDistribution":{[^}]*}' "$res" | grep -o 'is closing":[0-9]*' | cut -d: -f2 | awk '{s += $1} END {print s + 0}')
		((closing > GRPC_CONC)) && closing=$GRPC_CONC
		echo "${ok:-0} $((${total%.*} / 1000)) $((${p50:-0} / 1000)) $((${p99:-0} / 1000)) 0 $((count - ${ok:-0} - closing))"
		return
	fi
	local hdr=()
	[[ $key == h2c-jwt ]] && hdr=(-H "authorization: Bearer $TOKEN")
	h2load -t "$BENCH_THREADS" -c "$H2_CONNS" -m "$H2_STREAMS" -D "$secs" --log-file="$lf" "${hdr[@]}" \
		"http://127.0.0.1:$port/bytes/$H2_SIZE" >"$res" 2>&1 || true
	# "finished in 3.00s, ..." / "requests: N total, N started, N done, N
	# succeeded, N failed, N errored, N timeout" / "status codes: N 2xx, N
	# 3xx, N 4xx, N 5xx" (answers whose head came, some not done): the
	# answers are the succeeded requests less those not 2xx; percentiles
	# from the per-request log (third column, microseconds).
	local n p50=0 p99=0
	cut -f3 "$lf" 2>/dev/null | sort -n >"$lf.sorted" || true
	n=$(wc -l <"$lf.sorted")
	if ((n > 0)); then
		p50=$(sed -n "$(((n * 50 + 99) / 100))p" "$lf.sorted")
		p99=$(sed -n "$(((n * 99 + 99) / 100))p" "$lf.sorted")
	fi
	awk -v p50="$p50" -v p99="$p99" '
	/^finished in/ { d = $3; sub(/,$/, "", d); u = 1e6; if (d ~ /ms$/) u = 1e3; else if (d ~ /us$/) u = 1; sub(/[mu]?s$/, "", d); dur = d * u }
	/^requests:/ { done = $6; ok = $8; failed = $10 }
	/^status codes:/ { other = $5 + $7 + $9 } # 3xx, 4xx, 5xx
	END { if (dur != "" && done != "") printf "%d %d %d %d %d %d\n", ok - other, dur, p50, p99, failed, other }' "$res"
}

load_errors() { # what the last load run reported about its failures
	if grep -q '"errorDistribution"' "$OUT/load.out" 2>/dev/null; then
		grep -o '"errorDistribution":{[^}]*}' "$OUT/load.out" | head -c 400
	else
		grep -E '^(requests|status codes):' "$OUT/load.out" 2>/dev/null | tr '\n' ' ' || head -c 300 "$OUT/load.out" 2>/dev/null | tr '\n' ' '
		head -c 200 "$LOGS/ghz.err" 2>/dev/null | tr '\n' ' '
	fi
}

measure() { # measure SIDE KEY ROUND: one run, its CPU and checks, one "tp" line in the results
	local side=$1 key=$2 r=$3 c0 c1 res m0="" m1 inst=${SC_INST[$2]}
	local req dur p50 p99 serr bad label=${SC_LABEL[$2]}
	[[ $side == tollgate && -z ${TGPID[$inst]:-} ]] && return 0
	[[ $side == tollgate && $inst == jwt ]] && m0=$(client_counters "127.0.0.1:${TGADMIN[jwt]}" "$JWT_CLIENT")
	c0=$(proc_ticks $(pids_of "$side" "$key"))
	res=$(load "$side" "$key" "$BENCH_SECONDS")
	c1=$(proc_ticks $(pids_of "$side" "$key"))
	if [[ -z $res ]]; then
		note "$side: no result for $label round $r: $(load_errors)"
		return 0
	fi
	read -r req dur p50 p99 serr bad <<<"$res"
	echo "tp $side $key $r $req $dur $p50 $p99 $((c1 - c0)) $serr $bad" >>"$RESULTS"
	log "$side $label round $r: $req answers in $((dur / 1000)) ms, p50 ${p50}us p99 ${p99}us, cpu $((c1 - c0)) ticks, errors $serr, failed $bad"
	((serr == 0 && bad == 0)) || note "$side: $label round $r: $serr errors, $bad failed answers: $(load_errors)"
	if [[ -n $m0 ]]; then
		# Every call authenticated and metered as the named client.
		local af0 al0 ao0 dn0 af1 al1 ao1 dn1
		m1=$(client_counters "127.0.0.1:${TGADMIN[jwt]}" "$JWT_CLIENT")
		read -r af0 al0 ao0 dn0 <<<"$m0"
		read -r af1 al1 ao1 dn1 <<<"$m1"
		if ((af1 - af0 != 0 || ao1 - ao0 != 0 || dn1 - dn0 != 0 || al1 - al0 < req)); then
			note "tollgate-jwt: $label round $r: $req answers, but $((al1 - al0)) admitted as $JWT_CLIENT, $((ao1 - ao0)) as others, $((af1 - af0)) auth failures, $((dn1 - dn0)) refused"
		fi
	fi
}

# preflight: each scenario's request answers through both proxies as from
# the origin, over HTTP/2; through tollgate-jwt, metered as the client and
# refused without the token.
preflight() {
	local key p port want got code ver out
	for key in "${KEYS[@]}"; do
		if [[ -z ${TGPID[${SC_INST[$key]}]:-} ]]; then
			SC_SKIP[$key]=1
			note "${SC_LABEL[$key]}: not measured (tollgate-${SC_INST[$key]} is not running)"
			continue
		fi
		for p in tollgate nginx; do
			port=$(port_of "$p" "$key")
			if [[ $key == grpc-unary ]]; then
				out=$("$GHZ" "${GHZ_CALL[@]}" -n 1 -c 1 --metadata "{\"authorization\":\"Bearer $TOKEN\"}" "127.0.0.1:$port" 2>&1 || true)
				[[ $(ghz_json ok <<<"$out") == 1 ]] || { SC_SKIP[$key]=1; note "$p: ${SC_LABEL[$key]}: the call did not answer OK: $(head -c 300 <<<"$out")"; }
				[[ $p == tollgate ]] || continue
				out=$("$GHZ" "${GHZ_CALL[@]}" -n 1 -c 1 "127.0.0.1:$port" 2>&1 || true)
				grep -q '"Unauthenticated":1' <<<"$out" || { SC_SKIP[$key]=1; note "$p: ${SC_LABEL[$key]} without a token: not UNAUTHENTICATED: $(grep -o '"statusCodeDistribution":{[^}]*}' <<<"$out")"; }
				continue
			fi
			want=$(curl -fsS "http://$ORIGIN/bytes/$H2_SIZE" | md5sum | cut -d' ' -f1)
			local auth=()
			[[ $key == h2c-jwt ]] && auth=(-H "Authorization: Bearer $TOKEN")
			: >"$OUT/preflight.body"
			out=$(curl -sS --http2-prior-knowledge --max-time 10 -o "$OUT/preflight.body" -w '%{http_code} %{http_version}' "${auth[@]}" "http://127.0.0.1:$port/bytes/$H2_SIZE" 2>"$OUT/curl.err") || true
			read -r code ver <<<"$out"
			out="$out $(head -c 200 "$OUT/curl.err" | tr '\n' ' ')"
			got=$(md5sum <"$OUT/preflight.body" | cut -d' ' -f1)
			if [[ $code != 200 || $ver != 2 || $got != "$want" ]]; then
				SC_SKIP[$key]=1
				note "$p: ${SC_LABEL[$key]}: status $code over HTTP/$ver, body md5 $got (origin $want): $out"
			fi
			if [[ $key == h2c-jwt && $p == tollgate ]]; then
				code=$(curl -sS --http2-prior-knowledge --max-time 10 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/bytes/$H2_SIZE" 2>&1) || true
				[[ $code == 401 ]] || { SC_SKIP[$key]=1; note "$p: ${SC_LABEL[$key]} without a token: status $code, want 401"; }
			fi
		done
		[[ -n ${SC_SKIP[$key]:-} ]] && note "${SC_LABEL[$key]}: not measured (preflight failed)"
	done
	return 0
}

rounds() {
	local key p r
	for key in "${KEYS[@]}"; do
		[[ -n ${SC_SKIP[$key]:-} ]] && continue
		for p in tollgate nginx; do
			log "warm-up $p ${SC_LABEL[$key]} ${BENCH_WARMUP}s"
			load "$p" "$key" "$BENCH_WARMUP" >/dev/null || true
		done
	done
	for ((r = 1; r <= BENCH_ROUNDS; r++)); do
		for key in "${KEYS[@]}"; do
			[[ -n ${SC_SKIP[$key]:-} ]] && continue
			for p in tollgate nginx; do measure "$p" "$key" "$r"; done
		done
	done
}

# idle: IDLE_N h2c connections, one request each, then held idle; RSS
# before and after, and a second request on each after the hold.
idle() {
	local p before after ipid out=$OUT/idle.out port
	for p in tollgate nginx; do
		if [[ $p == tollgate ]]; then
			[[ -n ${TGPID[plain]:-} ]] || continue
			port=${TGPORT[plain]}
		else port=$NGX_PORT; fi
		sleep 1
		before=$(proc_rss_kb $(rss_pids_of "$p" plain))
		"$OUT/idleconns" -h2c -addr "127.0.0.1:$port" -n "$IDLE_N" -path "/bytes/$H2_SIZE" -hold "${H2_IDLE_HOLD}s" >"$out" 2>"$LOGS/idleconns-$p.log" &
		ipid=$!
		PIDS+=("$ipid")
		for _ in $(seq 1200); do
			grep -q '^ready' "$out" 2>/dev/null && break
			kill -0 "$ipid" 2>/dev/null || break
			sleep 0.1
		done
		sleep 1.5
		after=$(proc_rss_kb $(rss_pids_of "$p" plain))
		wait "$ipid" || true
		local ready ok failed
		ready=$(sed -n 's/^ready n=\([0-9]*\).*/\1/p' "$out")
		ok=$(sed -n 's/^check ok=\([0-9]*\).*/\1/p' "$out")
		failed=$(sed -n 's/^check ok=[0-9]* failed=\([0-9]*\).*/\1/p' "$out")
		echo "idle $p $IDLE_N ${ready:-0} $before $after ${ok:-0} ${failed:-0}" >>"$RESULTS"
		log "$p idle HTTP/2: $(tr '\n' ' ' <"$out") RSS $before -> $after KiB"
		if [[ ${ready:-0} != "$IDLE_N" || ${failed:-1} != 0 ]]; then
			note "$p: idle HTTP/2 connections: $(tr '\n' ' ' <"$out")$(head -c 300 "$LOGS/idleconns-$p.log")"
		fi
	done
}

# ---------------------------------------------------------------- report
# table: run.sh's rows (scenario, tollgate, nginx, ratio): for each
# scenario the median over the rounds of requests/s, p50, p99 and proxy CPU
# per 100k requests; then the idle row.
table() {
	local labels="" k
	for k in "${KEYS[@]}"; do labels+="${SC_LABEL[$k]}|"; done
	awk -v clk="$CLK_TCK" -v keylist="${KEYS[*]}" -v labellist="$labels" "$TABLE_AWK"'
	$1 == "idle" && $4 > 0 && $5 > 0 { ik[$2] = ($6 - $5) / $4; iseen = 1; in_ = $3 }
	END {
		nk = split(keylist, kord, " "); split(labellist, lord, "|")
		for (i = 1; i <= nk; i++) {
			s = kord[i]; if (!(s in tp)) continue
			T = "tollgate" SUBSEP s; N = "nginx" SUBSEP s
			row(lord[i] " requests/s", med(rps, T), med(rps, N))
			row(lord[i] " p50 latency ms", med(p50, T), med(p50, N))
			row(lord[i] " p99 latency ms", med(p99, T), med(p99, N))
			row(lord[i] " proxy CPU s / 100k req", med(cpu, T), med(cpu, N))
		}
		if (iseen) row("idle HTTP/2 RSS KiB/conn (n=" in_ ")", ("tollgate" in ik) ? ik["tollgate"] : "", ("nginx" in ik) ? ik["nginx"] : "")
		if (anytp) print "HTTP/2 failed answers and errors in the measured runs: " (errsum ? errsum " (see notes)" : "none")
	}' "$RESULTS"
}

log "mode $MODE; results in $RESULTS"
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
if ((${#KEYS[@]})); then
	preflight
	rounds
fi
has idle && idle
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)
for k in "${!TGPID[@]}"; do
	kill -0 "${TGPID[$k]}" 2>/dev/null || note "tollgate-$k (pid ${TGPID[$k]}) exited during the run: $(tail -n 5 "$LOGS/tollgate-$k.log" | tr '\n' ' ' | head -c 400)"
done

if [[ -n $H2_EMBED ]]; then
	table
	for n in "${NOTES[@]}"; do echo "note: $n"; done
	exit 0
fi
{
	echo
	echo "tollgate/nginx over HTTP/2, $(date -u '+%Y-%m-%d %H:%M UTC'), tollgate $REV, $("$NGINX" -v 2>&1 | sed 's/.*version: //'), $(nproc) CPUs"
	echo "mode=$MODE BENCH_SECONDS=$BENCH_SECONDS BENCH_ROUNDS=$BENCH_ROUNDS h2load -t$BENCH_THREADS -c$H2_CONNS -m$H2_STREAMS, ghz -c$GRPC_CONC --connections $GRPC_CONNS, accept_loops=worker_processes=$BENCH_LOOPS"
	echo "load average (1, 5, 15 min) before: $LOAD0, after: $LOAD1"
	echo "rows: median of the $BENCH_ROUNDS rounds of each proxy (tollgate, then nginx, alternating)"
	echo
	printf "%-47s %12s %12s %9s\n" scenario tollgate nginx ratio
	table
	if ((${#NOTES[@]})); then
		echo
		echo "notes:"
		printf '  - %s\n' "${NOTES[@]}"
	fi
} | tee "$OUT/table-$STAMP.txt"
