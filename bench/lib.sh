# bench/lib.sh — what every bench script shares, sourced after it sets
# LOG_TAG: a log line on stderr, the processes it started (stopped by PID
# on exit, newest first: TERM, then KILL after 5 s), free loopback ports,
# waiting for an HTTP endpoint to answer, the CPU time and RSS of
# processes, and a tollgate's auth and rate-limit counters.

log() { printf '[%s %s] %s\n' "${LOG_TAG:-bench}" "$(date +%H:%M:%S)" "$*" >&2; }

# PIDS are the processes the script started; EXTRA_PIDS, others it must
# stop too (processes a tollgate binary upgrade started, say).
PIDS=()
EXTRA_PIDS=()
stop_all() { # stop every process in PIDS and EXTRA_PIDS, newest first, and forget them
	local p i all=("${PIDS[@]}" "${EXTRA_PIDS[@]}")
	for ((i = ${#all[@]} - 1; i >= 0; i--)); do kill -TERM "${all[i]}" 2>/dev/null || true; done
	for p in "${all[@]}"; do
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	PIDS=()
	EXTRA_PIDS=()
}
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	stop_all
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

CHOSEN=" "
free_port() { # free_port VAR: a loopback port nothing uses, not handed out before
	local p
	while :; do
		p=$((20000 + RANDOM % 12000))
		[[ $CHOSEN == *" $p "* ]] && continue
		if ! ss -Htan "( sport = :$p or dport = :$p )" | grep -q .; then
			CHOSEN+="$p "
			printf -v "$1" '%s' "$p"
			return
		fi
	done
}

wait_http() { # wait_http URL WHAT [PID]: until URL answers 2xx (10 s), or PID exits
	for _ in $(seq 100); do
		curl -fsS -o /dev/null --max-time 1 "$1" 2>/dev/null && return 0
		if [[ -n ${3:-} ]] && ! kill -0 "$3" 2>/dev/null; then
			log "$2 exited during start-up"
			return 1
		fi
		sleep 0.1
	done
	log "$2 did not answer $1"
	return 1
}

proc_ticks() { # proc_ticks PID...: utime+stime of the processes, in clock ticks (CLK_TCK)
	local t=0 p line rest f
	for p in "$@"; do
		read -r line 2>/dev/null <"/proc/$p/stat" || continue
		rest=${line##*) }
		read -r -a f <<<"$rest"
		t=$((t + f[11] + f[12]))
	done
	echo "$t"
}

proc_rss_kb() { # proc_rss_kb PID...: VmRSS of the processes summed, in KiB
	local t=0 p k v _
	for p in "$@"; do
		while read -r k v _; do
			[[ $k == VmRSS: ]] && { t=$((t + v)); break; }
		done <"/proc/$p/status" 2>/dev/null || true
	done
	echo "$t"
}

# client_counters ADMIN CLIENT -> "auth_failures allowed_as_CLIENT
# allowed_as_others refused", from the tollgate whose admin listener is
# ADMIN (host:port).
client_counters() {
	{ curl -fsS --max-time 2 "http://$1/metrics" 2>/dev/null || true; } | awk -v c="$2" '
	/^tollgate_auth_failures_total/ { af += $NF }
	/^tollgate_ratelimit_decisions_total/ {
		if (!index($0, "decision=\"allow\"")) dn += $NF
		else if (index($0, "client=\"" c "\"")) al += $NF
		else ao += $NF
	}
	END { printf "%.0f %.0f %.0f %.0f\n", af, al, ao, dn }'
}
