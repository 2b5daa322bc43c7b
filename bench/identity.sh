#!/usr/bin/env bash
# bench/identity.sh — issue 16's rows: signed requests, mutual TLS and TLS
# to upstreams, tollgate against nginx in the same run. See bench/README.md
# ("Identity").
#
#   bench/identity.sh            (also: bench/run.sh identity; part of bench/run.sh all)
#
# Scenarios (BENCH_IDENTITY, default all three):
#   sig-hmac      tollgate route auth: [signature] (hmac-sha256) + per-client
#                 limits; bench/loadgen signs every GET /bytes/128 (fresh
#                 created and nonce); nginx proxies the same requests plainly
#   mtls          TLS listeners requiring a client certificate (tollgate:
#                 client_auth: require, route auth: [mtls] + limits; nginx:
#                 ssl_verify_client on), bench/loadgen over TLS with a
#                 certificate whose URI SAN is the client id, keep-alive
#   upstream-tls  both proxies to a TLS origin (private CA verified, session
#                 reuse, keep-alive pool); wrk GET /bytes/128 and a big
#                 download with curl (wall time and proxy CPU)
# Certificates and the HMAC secret are made with openssl into
# bench/out/identity/ at every start. Everything listens on loopback on free
# ports; every process started here is stopped by PID on exit.
set -euo pipefail

BENCH_SECONDS=${BENCH_SECONDS:-10}
# Each measured run lasts BENCH_ID_SECONDS (at most 5 s unless set), each
# warm-up BENCH_ID_WARMUP (at most 1 s): at the defaults the part adds
# about two minutes to bench/run.sh all.
BENCH_ID_SECONDS=${BENCH_ID_SECONDS:-$((BENCH_SECONDS < 5 ? BENCH_SECONDS : 5))}
BENCH_ROUNDS=${BENCH_ROUNDS:-2}
BENCH_CONNS=${BENCH_CONNS:-50}
BENCH_THREADS=${BENCH_THREADS:-$(nproc)}
BENCH_WARMUP=${BENCH_WARMUP:-2}
BENCH_ID_WARMUP=${BENCH_ID_WARMUP:-$((BENCH_WARMUP < 1 ? BENCH_WARMUP : 1))}
BENCH_LOOPS=${BENCH_LOOPS:-$(nproc)}
BENCH_NGINX_BUF=${BENCH_NGINX_BUF:-256k}
BENCH_TG_ENV=${BENCH_TG_ENV:-}
BENCH_BIG_BYTES=${BENCH_BIG_BYTES:-1073741824}
BENCH_IDENTITY=${BENCH_IDENTITY-sig-hmac mtls upstream-tls}

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
OUT=$HERE/out
ID=$OUT/identity
LOGS=$OUT/logs/identity
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RESULTS=$OUT/results-identity-$STAMP.txt
CLK_TCK=$(getconf CLK_TCK)
LOG_TAG=identity
. "$HERE/lib.sh" # log, PIDS and the cleanup trap, free_port, wait_http, proc_ticks

read -r -a SCENARIOS <<<"$BENCH_IDENTITY"
if ((${#SCENARIOS[@]} == 0)); then
	log "BENCH_IDENTITY is empty: nothing to run"
	exit 0
fi
for sc in "${SCENARIOS[@]}"; do
	case $sc in sig-hmac | mtls | upstream-tls) ;; *)
		echo "BENCH_IDENTITY: unknown scenario '$sc' (sig-hmac mtls upstream-tls)" >&2
		exit 2
		;;
	esac
done
has() { [[ " ${SCENARIOS[*]} " == *" $1 "* ]]; }

rm -rf "$ID"
mkdir -p "$ID/tls" "$LOGS"
: >"$RESULTS"
: >"$LOGS/load.log"

# ---------------------------------------------------------------- tools
missing=()
declare -A pkg=([nginx]=nginx [wrk]=wrk [curl]=curl [openssl]=openssl)
for t in nginx wrk curl openssl; do command -v "$t" >/dev/null 2>&1 || missing+=("${pkg[$t]}"); done
if ((${#missing[@]})); then
	log "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y "${missing[@]}" >/dev/null 2>&1 ||
		{ apt-get update >/dev/null && apt-get install -y "${missing[@]}" >/dev/null; }
fi
NGINX=$(command -v nginx)
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE=$(ulimit -n)

log "building into $OUT"
(cd "$ROOT" && go build -o "$OUT/tollgate" ./cmd/tollgate &&
	go build -o "$OUT/origin" ./bench/origin &&
	go build -o "$OUT/loadgen" ./bench/loadgen)
REV=$(bench_rev)

# ---------------------------------------------------------------- certificates
# One private CA (ECDSA P-256), a server certificate for every TLS listener
# (both proxies' and the TLS origin's) and a client certificate whose URI
# SAN is the SPIFFE ID the mtls route keys its limits on.
CLIENT_SPIFFE=spiffe://bench.tollgate.local/bench-client
SIG_CLIENT=bench-client
TLSD=$ID/tls
make_certs() {
	local ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
	openssl req -x509 "${ec[@]}" -keyout "$TLSD/ca.key" -out "$TLSD/ca.pem" -days 3650 \
		-subj "/CN=tollgate bench CA" -addext basicConstraints=critical,CA:TRUE \
		-addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
	leaf server "/CN=origin.bench.local" \
		"subjectAltName=DNS:origin.bench.local,DNS:localhost,IP:127.0.0.1
extendedKeyUsage=serverAuth
keyUsage=critical,digitalSignature"
	leaf client "/CN=bench-client" \
		"subjectAltName=URI:$CLIENT_SPIFFE
extendedKeyUsage=clientAuth
keyUsage=critical,digitalSignature"
	openssl rand -hex 32 >"$ID/hmac.secret"
}
leaf() { # leaf NAME SUBJECT EXTENSIONS: NAME.key and NAME.pem signed by the CA
	local ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
	openssl req -new "${ec[@]}" -keyout "$TLSD/$1.key" -out "$TLSD/$1.csr" -subj "$2" 2>/dev/null
	printf '%s\n' "$3" >"$TLSD/$1.ext"
	openssl x509 -req -in "$TLSD/$1.csr" -CA "$TLSD/ca.pem" -CAkey "$TLSD/ca.key" -CAcreateserial \
		-days 3650 -sha256 -extfile "$TLSD/$1.ext" -out "$TLSD/$1.pem" 2>/dev/null
}
make_certs
log "certificates in $TLSD"

# ---------------------------------------------------------------- origins
free_port ORIGIN_PORT
free_port ORIGIN_TLS_PORT
ORIGIN=127.0.0.1:$ORIGIN_PORT
ORIGIN_TLS=127.0.0.1:$ORIGIN_TLS_PORT
ORIGIN_NAME=origin.bench.local # the TLS origin's name, checked by both proxies
otls() { # otls PATH [curl args]: GET from the TLS origin, its certificate verified
	local path=$1
	shift
	curl -fsS --max-time 30 --cacert "$TLSD/ca.pem" --resolve "$ORIGIN_NAME:$ORIGIN_TLS_PORT:127.0.0.1" "$@" "https://$ORIGIN_NAME:$ORIGIN_TLS_PORT$path"
}
"$OUT/origin" -listen "$ORIGIN" >"$LOGS/origin.log" 2>&1 &
ORIGIN_PID=$!
PIDS+=("$ORIGIN_PID")
wait_http "http://$ORIGIN/conns" origin "$ORIGIN_PID"
ORIGIN_TLS_PID=""
if has upstream-tls; then
	"$OUT/origin" -listen "$ORIGIN_TLS" -tls-cert "$TLSD/server.pem" -tls-key "$TLSD/server.key" >"$LOGS/origin-tls.log" 2>&1 &
	ORIGIN_TLS_PID=$!
	PIDS+=("$ORIGIN_TLS_PID")
	for _ in $(seq 100); do
		otls /conns >/dev/null 2>&1 && break
		kill -0 "$ORIGIN_TLS_PID" 2>/dev/null || { log "TLS origin exited: $(tail -n 3 "$LOGS/origin-tls.log")"; exit 1; }
		sleep 0.1
	done
fi

# ---------------------------------------------------------------- tollgate
declare -A PORT=() TGADMIN=() TGPID=() TGLOG=()
tg_config() { # tg_config PORT ADMIN UPSTREAM_ADDR [SERVER_EXTRA] [UPSTREAM_EXTRA]
	cat <<EOF
# generated by bench/identity.sh
server:
  listen: "127.0.0.1:$1"
  accept_loops: $BENCH_LOOPS
  idle_timeout: 600s
  access_log: false
${4:-}
admin:
  listen: "127.0.0.1:$2"
upstreams:
  origin:
    targets: ["$3"]
    pool: {max_conns_per_target: 1024, max_idle_per_target: 128, idle_timeout: 600s}
    timeouts: {connect: 1s, response_header: 60s}
${5:-}
EOF
}
# Limits for the metered scenarios: the named client far above the load,
# anyone else at 10/s, so that a request not metered as the client soon
# turns into a 429 instead of passing unnoticed.
tg_limits() { # tg_limits CLIENT
	cat <<EOF
clients:
  default: {rate: 10/s, burst: 20}
  "$1": {rate: 100000000/s, burst: 100000000}
limits:
  store: local
  headers: ietf
EOF
}
start_tg() { # start_tg NAME: -check, then start $ID/tollgate-NAME.yaml; failures are noted
	local name=$1
	TGLOG[$name]=$LOGS/tollgate-$name.log
	launch_tg "$name" "$ID/tollgate-$name.yaml" "${TGADMIN[$name]}" || return 1
	TGPID[$name]=$LAUNCHED_PID
	log "tollgate-$name :${PORT[$name]} pid $LAUNCHED_PID (admin :${TGADMIN[$name]})"
}
instance() { # instance NAME: its listener and admin ports
	local port admin
	free_port port
	free_port admin
	PORT[$1]=$port
	TGADMIN[$1]=$admin
}

if has sig-hmac; then
	# max_age 5s: nonces are remembered for 2 x max_age in two generations,
	# so at most ~20 s of requests are held; nonce_cache_size leaves room
	# for 50,000 signed requests/s (a full cache would show as 503s).
	instance sig-hmac
	{
		tg_config "${PORT[sig-hmac]}" "${TGADMIN[sig-hmac]}" "$ORIGIN"
		cat <<EOF
auth:
  signatures:
    keys: [{keyid: bench-hmac, client_id: $SIG_CLIENT, alg: hmac-sha256, secret_file: "$ID/hmac.secret"}]
    max_age: 5s
    nonce_cache_size: 1000000
$(tg_limits "$SIG_CLIENT")
routes:
  - name: bench
    match: {path_prefix: /}
    upstream: origin
    auth: [signature]
    timeout: 600s
EOF
	} >"$ID/tollgate-sig-hmac.yaml"
	start_tg sig-hmac || true
fi
if has mtls; then
	instance mtls
	{
		tg_config "${PORT[mtls]}" "${TGADMIN[mtls]}" "$ORIGIN" "  tls:
    cert_file: \"$TLSD/server.pem\"
    key_file: \"$TLSD/server.key\"
    client_ca: \"$TLSD/ca.pem\"
    client_auth: require"
		cat <<EOF
auth:
  mtls: {client_id_from: san_uri}
$(tg_limits "$CLIENT_SPIFFE")
routes:
  - name: bench
    match: {path_prefix: /}
    upstream: origin
    auth: [mtls]
    timeout: 600s
EOF
	} >"$ID/tollgate-mtls.yaml"
	start_tg mtls || true
fi
if has upstream-tls; then
	# As bench/run.sh's plain instance (no auth, limit: false), its one
	# upstream over TLS.
	instance upstream-tls
	{
		tg_config "${PORT[upstream-tls]}" "${TGADMIN[upstream-tls]}" "$ORIGIN_TLS" "" \
			"    tls: {ca_file: \"$TLSD/ca.pem\", server_name: $ORIGIN_NAME}"
		cat <<EOF
clients:
  default: {rate: 100000000/s, burst: 100000000}
routes:
  - name: bench
    match: {path_prefix: /}
    upstream: origin
    limit: false
    timeout: 600s
EOF
	} >"$ID/tollgate-upstream-tls.yaml"
	start_tg upstream-tls || true
fi

# ---------------------------------------------------------------- nginx
# One nginx, one server per scenario, each as bench/run.sh's: plain for
# sig-hmac (nginx does not verify signatures: that is the comparison), TLS
# with ssl_verify_client on for mtls, and a TLS upstream with the CA
# verified, session reuse and a keep-alive pool for upstream-tls.
free_port NGX_SIG
free_port NGX_MTLS
free_port NGX_UTLS
NGX_DIR=$ID/nginx
nginx_head "$NGX_DIR" "$BENCH_LOOPS" bench/identity.sh
cat >>"$NGX_DIR/nginx.conf" <<EOF
$(nginx_keepalive)
$(nginx_upstream origin "$ORIGIN")
$(nginx_upstream origin_tls "$ORIGIN_TLS")
  server { # sig-hmac: signed requests proxied plainly
    listen 127.0.0.1:$NGX_SIG reuseport deferred backlog=4096;
$(nginx_proxy_fields)
    location / { proxy_pass http://origin; }
  }
  server { # mtls: a client certificate from the CA required
    listen 127.0.0.1:$NGX_MTLS ssl reuseport deferred backlog=4096;
    ssl_certificate $TLSD/server.pem;
    ssl_certificate_key $TLSD/server.key;
    ssl_client_certificate $TLSD/ca.pem;
    ssl_verify_client on;
    ssl_protocols TLSv1.2 TLSv1.3; # 1.22's default stops at 1.2; tollgate speaks 1.3
    ssl_session_cache shared:bench:10m;
$(nginx_proxy_fields)
    location / { proxy_pass http://origin; }
  }
  server { # upstream-tls: the same origin over TLS
    listen 127.0.0.1:$NGX_UTLS reuseport deferred backlog=4096;
$(nginx_proxy_fields)
    proxy_ssl_trusted_certificate $TLSD/ca.pem;
    proxy_ssl_verify on;
    proxy_ssl_verify_depth 2;
    proxy_ssl_name $ORIGIN_NAME;
    proxy_ssl_server_name on;
    proxy_ssl_session_reuse on;
    proxy_ssl_protocols TLSv1.2 TLSv1.3; # 1.22's default stops at 1.2; tollgate speaks 1.3
    location / { proxy_pass https://origin_tls; }
    location /stream/ {
      proxy_pass https://origin_tls;
      proxy_buffering off;
      proxy_buffer_size $BENCH_NGINX_BUF;
      proxy_buffers 4 $BENCH_NGINX_BUF;
      proxy_busy_buffers_size $BENCH_NGINX_BUF;
    }
  }
}
EOF
"$NGINX" -p "$NGX_DIR" -c "$NGX_DIR/nginx.conf" -e "$NGX_DIR/error.log" -g 'daemon off;' 2>"$LOGS/nginx.log" &
NGX_PID=$!
PIDS+=("$NGX_PID")
wait_http "http://127.0.0.1:$NGX_SIG/bytes/1" nginx "$NGX_PID" || {
	cat "$LOGS/nginx.log" "$NGX_DIR/error.log" >&2 2>/dev/null || true
	exit 1
}
NGX_WORKERS=$(pgrep -P "$NGX_PID" | tr '\n' ' ')
log "origin $ORIGIN pid $ORIGIN_PID${ORIGIN_TLS_PID:+, TLS origin $ORIGIN_TLS pid $ORIGIN_TLS_PID}; nginx :$NGX_SIG :$NGX_MTLS :$NGX_UTLS pid $NGX_PID workers $NGX_WORKERS"
declare -A NGX_PORT_OF=([sig-hmac]=$NGX_SIG [mtls]=$NGX_MTLS [upstream-tls]=$NGX_UTLS)

# ---------------------------------------------------------------- helpers
cpu_ticks() { # cpu_ticks SIDE SCENARIO: the proxy's CPU (nginx: master and workers)
	if [[ $1 == nginx ]]; then proc_ticks $NGX_PID $NGX_WORKERS; else proc_ticks "${TGPID[$2]:-}"; fi
}
alive() { # alive SIDE SCENARIO: false (noted once) when the tollgate instance is not running
	[[ $1 == nginx ]] && return 0
	local pid=${TGPID[$2]:-}
	[[ -n $pid ]] && kill -0 "$pid" 2>/dev/null && return 0
	if [[ -z ${DEAD[$2]:-} ]]; then
		DEAD[$2]=1
		note "tollgate-$2 is not running; last log lines: $(tail -n 5 "${TGLOG[$2]:-/dev/null}" 2>/dev/null | tr '\n' ' ' | head -c 400)"
	fi
	return 1
}
declare -A DEAD=()
url_of() { # url_of SIDE SCENARIO PATH
	local port scheme=http
	if [[ $1 == nginx ]]; then port=${NGX_PORT_OF[$2]}; else port=${PORT[$2]}; fi
	[[ $2 == mtls ]] && scheme=https
	echo "$scheme://127.0.0.1:$port$3"
}
client_of() { if [[ $1 == mtls ]]; then echo "$CLIENT_SPIFFE"; else echo "$SIG_CLIENT"; fi; }

# load SIDE SCENARIO SECONDS -> "requests duration_us p50_us p99_us sockerr non2xx"
load() { load_cmd "$@" 2>>"$LOGS/load.log" | tee -a "$LOGS/load.log" | awk '/^RESULT/ {print $2, $3, $4, $5, $6, $7}'; }
load_cmd() { # load_cmd SIDE SCENARIO SECONDS: the load tool's own output
	local url
	url=$(url_of "$1" "$2" /bytes/128)
	case $2 in
	sig-hmac)
		"$OUT/loadgen" -url "$url" -c "$BENCH_CONNS" -d "${3}s" \
			-sign-keyid bench-hmac -sign-key "$ID/hmac.secret" ;;
	mtls)
		"$OUT/loadgen" -url "$url" -c "$BENCH_CONNS" -d "${3}s" \
			-ca "$TLSD/ca.pem" -cert "$TLSD/client.pem" -key "$TLSD/client.key" ;;
	upstream-tls)
		wrk -t"$BENCH_THREADS" -c"$BENCH_CONNS" -d"${3}s" --latency -s "$ID/report.lua" "$url" ;;
	esac
}
cat >"$ID/report.lua" <<'EOF'
-- prints one machine-readable line when wrk is done (as bench/run.sh's)
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %d %d\n",
    summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status))
end
EOF

tg_counters() { # tg_counters SCENARIO CLIENT -> "auth_failures allowed_as_CLIENT allowed_as_others refused"
	curl -fsS --max-time 2 "http://127.0.0.1:${TGADMIN[$1]}/metrics" 2>/dev/null | awk -v c="$2" '
	/^tollgate_auth_failures_total/ { af += $NF }
	/^tollgate_ratelimit_decisions_total/ {
		if (!index($0, "decision=\"allow\"")) dn += $NF
		else if (index($0, "client=\"" c "\"")) al += $NF
		else ao += $NF
	}
	END { printf "%.0f %.0f %.0f %.0f\n", af, al, ao, dn }'
}

# ---------------------------------------------------------------- preflight
# Each scenario's request must get the origin's answer through both
# proxies before it is measured. Through tollgate: a signed request is
# metered as SIG_CLIENT (RateLimit-Policy names it), an unsigned, tampered
# or replayed one gets 401; a certificate is metered as its SPIFFE ID, no
# certificate fails the handshake (nginx: 400). Upstream TLS: a small and
# an 8 MiB body equal the TLS origin's, and /tls tells what each proxy
# negotiated with it. A scenario that fails is not measured.
declare -A SKIP=()
INFO=() # lines printed under the table
fetch() { # fetch URL [curl args] -> "status md5"; headers in $ID/pf.head
	local url=$1 code
	shift
	: >"$ID/pf.head"
	: >"$ID/pf.body"
	code=$(curl -sS --max-time 30 -D "$ID/pf.head" -o "$ID/pf.body" -w '%{http_code}' "$@" "$url" 2>>"$LOGS/preflight-curl.log") || true
	echo "${code:-000} $(md5sum <"$ID/pf.body" | cut -d' ' -f1)"
}
expect() { # expect WHAT GOT WANT: a failed check turns off the scenario (variable ok)
	[[ $2 == "$3" ]] && return 0
	ok=0
	note "$1: got '$2', want '$3'"
}
policy_names() { # policy_names CLIENT: the last fetch was metered as CLIENT
	tr -d '\r' <"$ID/pf.head" | grep -qiF "ratelimit-policy: \"$1\""
}
sign_hdrs() { # sign_hdrs METHOD URL: curl -H arguments of a fresh signature, in SIGNED
	local h
	SIGNED=()
	while IFS= read -r h; do SIGNED+=(-H "$h"); done < <("$OUT/tollgate" sign -keyid bench-hmac -alg hmac-sha256 -key "$ID/hmac.secret" "$1" "$2")
}
loadgen_smoke() { # loadgen_smoke SCENARIO: a short bench/loadgen run through each proxy has no failure
	local p out res req serr non2
	for p in tollgate nginx; do
		out=$(load_cmd "$p" "$1" 0.3 2>&1) || true
		res=$(awk '/^RESULT/ {print $2, $6, $7}' <<<"$out")
		read -r req serr non2 <<<"${res:-0 0 0}"
		if ((req == 0 || serr != 0 || non2 != 0)); then
			ok=0
			note "$p: $1: bench/loadgen for 0.3s: $(tr '\n' ' ' <<<"$out" | head -c 300)"
		fi
		if [[ $1 == mtls ]]; then INFO+=("$1: bench/loadgen to $p: $(sed -n 's/.*non-2xx [0-9]*, //p' <<<"$out")"); fi
	done
}
preflight() {
	local sc p url want want8 got ok mtls_args
	mtls_args=(--cacert "$TLSD/ca.pem" --cert "$TLSD/client.pem" --key "$TLSD/client.key")
	for sc in "${SCENARIOS[@]}"; do
		ok=1
		if ! alive tollgate "$sc"; then
			SKIP[$sc]=1
			continue
		fi
		case $sc in
		sig-hmac)
			want="200 $(curl -fsS "http://$ORIGIN/bytes/128" | md5sum | cut -d' ' -f1)"
			for p in tollgate nginx; do
				url=$(url_of "$p" "$sc" /bytes/128)
				sign_hdrs GET "$url"
				expect "$p: $sc: signed GET" "$(fetch "$url" "${SIGNED[@]}")" "$want"
				[[ $p == tollgate ]] || continue
				policy_names "$SIG_CLIENT" || expect "$p: $sc: RateLimit-Policy" "$(tr -d '\r' <"$ID/pf.head" | grep -i '^ratelimit-policy')" "\"$SIG_CLIENT\"…"
				got=$(fetch "$url" "${SIGNED[@]}")
				expect "$p: $sc: the same signature again (replayed nonce)" "${got%% *}" 401
				expect "$p: $sc: unsigned GET" "$(fetch "$url" | cut -d' ' -f1)" 401
				sign_hdrs GET "$url"
				expect "$p: $sc: signature of /bytes/128 on /bytes/129" "$(fetch "${url%128}129" "${SIGNED[@]}" | cut -d' ' -f1)" 401
			done
			;;
		mtls)
			want="200 $(curl -fsS "http://$ORIGIN/bytes/128" | md5sum | cut -d' ' -f1)"
			for p in tollgate nginx; do
				url=$(url_of "$p" "$sc" /bytes/128)
				expect "$p: $sc: GET with the client certificate" "$(fetch "$url" "${mtls_args[@]}")" "$want"
				if [[ $p == tollgate ]]; then
					policy_names "$CLIENT_SPIFFE" || expect "$p: $sc: RateLimit-Policy" "$(tr -d '\r' <"$ID/pf.head" | grep -i '^ratelimit-policy')" "\"$CLIENT_SPIFFE\"…"
					expect "$p: $sc: no client certificate (handshake refused)" "$(fetch "$url" --cacert "$TLSD/ca.pem" | cut -d' ' -f1)" 000
				else
					expect "$p: $sc: no client certificate" "$(fetch "$url" --cacert "$TLSD/ca.pem" | cut -d' ' -f1)" 400
				fi
			done
			;;
		upstream-tls)
			want="200 $(otls /bytes/128 | md5sum | cut -d' ' -f1)"
			want8="200 $(otls /stream/8388608 | md5sum | cut -d' ' -f1)"
			for p in tollgate nginx; do
				url=$(url_of "$p" "$sc" "")
				expect "$p: $sc: GET /bytes/128" "$(fetch "$url/bytes/128")" "$want"
				expect "$p: $sc: GET /stream/8388608" "$(fetch "$url/stream/8388608")" "$want8"
				got=$(curl -fsS --max-time 10 "$url/tls" 2>&1) || ok=0
				INFO+=("$sc: $p to the origin (GET /tls in the preflight): $got")
				[[ $got == TLS* ]] || expect "$p: $sc: GET /tls (the proxy's TLS to the origin)" "$got" "TLS …"
			done
			;;
		esac
		if [[ $sc != upstream-tls ]]; then loadgen_smoke "$sc"; fi
		if ((ok)); then
			log "preflight $sc: ok"
		else
			SKIP[$sc]=1
			note "$sc: not measured (preflight failed)"
		fi
	done
}

# ---------------------------------------------------------------- measure
declare -A LABEL=([sig-hmac]="sig-hmac GET 128 B" [mtls]="mtls GET 128 B" [upstream-tls]="upstream-tls GET 128 B")
measure() { # measure SIDE SCENARIO ROUND: one load run, its CPU and checks, one "tp" line in the results
	local side=$1 sc=$2 r=$3 c0 c1 res m0="" m1 req dur p50 p99 serr non2 client
	alive "$side" "$sc" || return 0
	client=$(client_of "$sc")
	[[ $side == tollgate && $sc != upstream-tls ]] && m0=$(tg_counters "$sc" "$client")
	local h0=""
	[[ $sc == upstream-tls ]] && h0=$(handshakes)
	c0=$(cpu_ticks "$side" "$sc")
	res=$(load "$side" "$sc" "$BENCH_ID_SECONDS" || true)
	c1=$(cpu_ticks "$side" "$sc")
	[[ -z $h0 ]] || hs_add "$side" "$h0" "$(handshakes)"
	if [[ -z $res ]]; then
		note "$side: no result for ${LABEL[$sc]} round $r (see $LOGS/load.log)"
		return 0
	fi
	read -r req dur p50 p99 serr non2 <<<"$res"
	echo "tp $side $sc $r $req $dur $p50 $p99 $((c1 - c0)) $serr $non2" >>"$RESULTS"
	log "$side ${LABEL[$sc]} round $r: $req requests in $((dur / 1000)) ms, p50 ${p50}us p99 ${p99}us, cpu $((c1 - c0)) ticks, socket errors $serr, non-2xx $non2"
	((serr == 0 && non2 == 0)) || note "$side: ${LABEL[$sc]} round $r: $serr socket errors, $non2 non-2xx responses"
	[[ -n $m0 ]] || return 0
	# Every request authenticated and metered as the client: no auth
	# failure, no refusal, none admitted as anyone else.
	local af0 al0 ao0 dn0 af1 al1 ao1 dn1
	m1=$(tg_counters "$sc" "$client")
	read -r af0 al0 ao0 dn0 <<<"$m0"
	read -r af1 al1 ao1 dn1 <<<"$m1"
	log "tollgate-$sc round $r: auth failures +$((af1 - af0)), admitted as $client +$((al1 - al0)), as others +$((ao1 - ao0)), refused +$((dn1 - dn0))"
	if ((af1 - af0 != 0 || ao1 - ao0 != 0 || dn1 - dn0 != 0 || al1 - al0 < req)); then
		note "tollgate-$sc: round $r: $req answers, but $((al1 - al0)) admitted as $client, $((ao1 - ao0)) as others, $((af1 - af0)) auth failures, $((dn1 - dn0)) refused (tollgate_*_total)"
	fi
}

transfer() { # transfer SIDE ROUND: one big download through the TLS upstream
	local p=$1 r=$2 c0 c1 out code size wall ok=1 h0
	h0=$(handshakes)
	c0=$(cpu_ticks "$p" upstream-tls)
	out=$(curl -sS --max-time 600 -o /dev/null -w '%{http_code} %{size_download} %{time_total}' \
		"$(url_of "$p" upstream-tls "/stream/$BENCH_BIG_BYTES")" 2>"$ID/curl.err") || ok=0
	c1=$(cpu_ticks "$p" upstream-tls)
	hs_add "$p" "$h0" "$(handshakes)"
	read -r code size wall <<<"$out"
	if [[ ${code:-000} != 200 || ${size:-0} != "$BENCH_BIG_BYTES" ]]; then
		ok=0
		note "$p: upstream-tls download round $r: status ${code:-none}, ${size:-0} of $BENCH_BIG_BYTES bytes: $(head -c 200 "$ID/curl.err")"
	fi
	echo "xfer $p $r $ok ${size:-0} ${wall:-0} $((c1 - c0))" >>"$RESULTS"
	log "$p upstream-tls download round $r: ok=$ok ${wall}s, cpu $((c1 - c0)) ticks"
}

run_all() {
	preflight
	local sc p r w h0
	for sc in "${SCENARIOS[@]}"; do
		[[ -n ${SKIP[$sc]:-} ]] || ((BENCH_ID_WARMUP <= 0)) && continue
		for p in tollgate nginx; do
			alive "$p" "$sc" || continue
			log "warm-up $p ${LABEL[$sc]} ${BENCH_ID_WARMUP}s"
			h0=$(handshakes)
			load "$p" "$sc" "$BENCH_ID_WARMUP" >/dev/null || true
			[[ $sc != upstream-tls ]] || hs_add "$p" "$h0" "$(handshakes)"
		done
	done
	for ((r = 1; r <= BENCH_ROUNDS; r++)); do
		for sc in "${SCENARIOS[@]}"; do
			[[ -n ${SKIP[$sc]:-} ]] && continue
			for p in tollgate nginx; do measure "$p" "$sc" "$r"; done
		done
	done
	has upstream-tls && [[ -z ${SKIP[upstream-tls]:-} ]] || return 0
	for p in tollgate nginx; do # unmeasured; the wall time is logged
		alive "$p" upstream-tls || continue
		h0=$(handshakes)
		w=$(curl -sS --max-time 600 -o /dev/null -w '%{time_total}' "$(url_of "$p" upstream-tls "/stream/$((BENCH_BIG_BYTES / 4))")" || echo fail)
		hs_add "$p" "$h0" "$(handshakes)"
		log "warm-up $p upstream-tls download of $((BENCH_BIG_BYTES / 4)) bytes: ${w}s"
	done
	for ((r = 1; r <= BENCH_ROUNDS; r++)); do
		for p in tollgate nginx; do
			alive "$p" upstream-tls && transfer "$p" "$r"
		done
	done
	local full resumed
	for p in tollgate nginx; do
		read -r full resumed <<<"${HANDSHAKES[$p]:-0 0}"
		INFO+=("upstream-tls: TLS handshakes at the origin while $p was loaded (warm-ups, runs, downloads): $full full, $resumed resumed")
	done
}

# handshakes: the TLS origin's counts of full and resumed handshakes so far.
handshakes() { otls /handshakes 2>/dev/null | sed -n 's/^full=\([0-9]*\) resumed=\([0-9]*\)$/\1 \2/p'; }
declare -A HANDSHAKES=() # SIDE -> "full resumed" while that side was loaded
hs_add() { # hs_add SIDE BEFORE AFTER: add the handshakes between two handshakes counts to SIDE's
	local f0 r0 f1 r1 f r
	read -r f0 r0 <<<"${2:-0 0}"
	read -r f1 r1 <<<"${3:-0 0}"
	read -r f r <<<"${HANDSHAKES[$1]:-0 0}"
	HANDSHAKES[$1]="$((f + f1 - f0)) $((r + r1 - r0))"
}

# ---------------------------------------------------------------- report
table() {
	local labels="" sc
	for sc in "${SCENARIOS[@]}"; do labels+="${LABEL[$sc]}|"; done
	awk -v clk="$CLK_TCK" -v big="$BENCH_BIG_BYTES" -v keylist="${SCENARIOS[*]}" -v labellist="$labels" "$TABLE_AWK"'
	$1 == "xfer" && $4 == 1 { k = "x" SUBSEP $2; i = ++cnt[k]; wall[k, i] = $6; xcpu[k, i] = $7 / clk; xf = 1 }
	END {
		printf "%-47s %12s %12s %9s\n", "scenario", "tollgate", "nginx", "ratio"
		nk = split(keylist, kord, " "); split(labellist, lord, "|")
		for (i = 1; i <= nk; i++) {
			s = kord[i]; if (!(s in tp)) continue
			T = "tollgate" SUBSEP s; N = "nginx" SUBSEP s
			row(lord[i] " requests/s", med(rps, T), med(rps, N))
			row(lord[i] " p50 latency ms", med(p50, T), med(p50, N))
			row(lord[i] " p99 latency ms", med(p99, T), med(p99, N))
			row(lord[i] " proxy CPU s / 100k req", med(cpu, T), med(cpu, N))
		}
		if (xf) {
			gib = sprintf("%.3g GiB", big / 1073741824)
			row("upstream-tls " gib " download wall s", med(wall, "x" SUBSEP "tollgate"), med(wall, "x" SUBSEP "nginx"))
			row("upstream-tls " gib " download proxy CPU s", med(xcpu, "x" SUBSEP "tollgate"), med(xcpu, "x" SUBSEP "nginx"))
		}
		if (anytp) {
			if (!errsum) print "non-2xx responses and socket errors in the measured runs: none"
			else for (i = 1; i <= nk; i++) for (j = 1; j <= 2; j++) {
				side = j == 1 ? "tollgate" : "nginx"
				if (errs[side SUBSEP kord[i]] > 0) printf "non-2xx responses + socket errors, %s, %s: %d (see notes)\n", lord[i], side, errs[side SUBSEP kord[i]]
			}
		}
	}' "$RESULTS"
}

log "scenarios: ${SCENARIOS[*]}; results in $RESULTS"
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
run_all
for sc in "${!TGPID[@]}"; do alive tollgate "$sc" || true; done
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)
{
	echo
	echo "identity (issue 16): tollgate/nginx, $(date -u '+%Y-%m-%d %H:%M UTC'), tollgate $REV, $("$NGINX" -v 2>&1 | sed 's/.*version: //'), $(nproc) CPUs"
	echo "scenarios: ${SCENARIOS[*]}; BENCH_ID_SECONDS=$BENCH_ID_SECONDS BENCH_ID_WARMUP=$BENCH_ID_WARMUP BENCH_ROUNDS=$BENCH_ROUNDS conns=$BENCH_CONNS wrk threads=$BENCH_THREADS accept_loops=worker_processes=$BENCH_LOOPS"
	echo "load average (1, 5, 15 min) before: $LOAD0, after: $LOAD1"
	echo "rows: median of the $BENCH_ROUNDS rounds of each proxy (tollgate, then nginx, alternating); sig-hmac and mtls loaded by bench/loadgen, upstream-tls by wrk and curl"
	echo
	table
	((${#INFO[@]})) && printf '%s\n' "${INFO[@]}"
	if ((${#NOTES[@]})); then
		echo
		echo "notes:"
		printf '  - %s\n' "${NOTES[@]}"
	fi
} | tee "$OUT/table-identity-$STAMP.txt"
