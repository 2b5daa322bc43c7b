package proxy

import (
	"strconv"
	"time"

	"tollgate/upstream"
)

// outcomeOf turns a try's failure (and the response status when there was
// one) into what the target's breaker is told. Failures the target is not
// to blame for — the client went away or sent a bad body, the gateway is
// out of file descriptors (failNoFiles) — report the zero Outcome, which
// counts as a success.
func outcomeOf(f failure, status int) upstream.Outcome {
	switch f {
	case failNone, failRetryStatus:
		return upstream.Outcome{Status: status}
	case failConnect, failDNS, failRefused:
		return upstream.Outcome{ConnectFailure: true}
	case failConnectTimeout:
		return upstream.Outcome{ConnectFailure: true, Timeout: true}
	case failTimeout:
		return upstream.Outcome{Timeout: true}
	case failReset, failBadResponse:
		return upstream.Outcome{Reset: true}
	case failUnavailable:
		// The pool stayed full until the deadline (a hung upstream holds
		// its connections): a timeout, so a half-open probe that never
		// reached the target cannot close the breaker.
		return upstream.Outcome{Timeout: true}
	}
	return upstream.Outcome{}
}

// replyUnavailable answers 503 when every target of the route's upstream is
// out of rotation, with Retry-After set to the whole seconds (rounded up,
// at least 1) until one may be back.
func (cc *clientConn) replyUnavailable(rt *routeRT, wait time.Duration, ran int) exchangeResult {
	info := failureInfo[failAllOut]
	secs := max(int64((wait+time.Second-1)/time.Second), 1)
	hdr := [][2]string{{"Retry-After", strconv.FormatInt(secs, 10)}}
	return cc.sendReply(rt, ran, info.status, info.code, info.message, hdr, nil)
}
