package proxy

import (
	"time"

	"tollgate/plugins"
	"tollgate/proxy/http1"
	"tollgate/proxy/tracing"
)

// exchange is one request's whole state, apart from the connection it
// arrived on: its head and its upstream's, the filters' view of it, how
// far it got (stage), and its tries. The loop and the workers go on with
// it from its stage; a clientConn embeds the exchange of the request it
// serves.
type exchange struct {
	stage stage     // how far the request got: where serving goes on
	snap  *Snapshot // the request keeps this snapshot to its end
	rt    *routeRT  // its route (nil before routing, or with no route)
	fail  failure   // readRequest's verdict
	start time.Time
	// headSince is when the loop began waiting for the rest of a partial
	// request head (zero when not waiting).
	headSince time.Time

	q     http1.Request    // the client's head
	p     http1.Response   // the upstream's head
	x     plugins.Exchange // what filters see
	reply http1.Header     // the head of a reply the gateway makes
	reqID []byte

	// waitAt is the filter a suspended exchange waits on, and waitReply
	// its answer (nil: go on with the chain).
	waitAt    int
	waitReply *plugins.Reply

	body        bodyState
	sent100     bool
	nothingRead bool // the latest try read no response byte
	picker      targetPicker
	fs          forwardState
	out         stream // the response body on its way, on the loop
	// in decodes a chunked request body streamed on the loop; inTotal is
	// its decoded size so far, inEnded that its last chunk was queued.
	in      http1.ChunkScanner
	inTotal int64
	inEnded bool

	keep bool // stageFlush: whether the connection goes on

	up *duplexUpload // a body streaming up while the answer streams down (duplex.go)

	web webCall // a gRPC-Web call's translation (grpcweb.go)

	trace tracing.Request // the request's spans, when it is sampled (trace.go)
}

// stage is how far an exchange got, and so where serving it goes on after
// a wait: on its loop, or on a worker it was handed to.
type stage int

const (
	stageHead         stage = iota // reading the request head
	stageRoute                     // head read and routed (or refused, cc.fail): run the filters
	stageBody                      // a small body is being read whole (gathered) before the filters
	stageFilterWait                // filter waitAt answered waitReply: go on with the chain
	stagePick                      // pick a target
	stageAcquire                   // fs.t picked: connect, send, read the head
	stageAcquireFresh              // the keep-alive race: dial fs.t afresh for the same try
	stageSend                      // fs.conn acquired for fs.t: send, read the head
	stageUpload                    // head sent on fs.conn: a chunked body streams to it (upload.go)
	stageAwait                     // request sent on fs.conn (fs.werr): read the head
	stageSettle                    // head read on fs.conn with fs.f: settle the try
	stageJudge                     // try settled (fs.conn, fs.f): relay, hold or retry
	stageRelay                     // response head sent: the body goes from fs.conn to the client (out)
	stageRelayConn                 // relay the answer on fs.conn on a worker (a tunnel, a body to splice)
	stageFlush                     // answered: write what the client socket did not take; keep says the rest
	stageH2                        // the connection speaks HTTP/2: a worker serves it (h2server.go)
)

// clear drops the exchange's references (its buffers are kept) when its
// clientConn goes back to the pool.
func (x *exchange) clear() {
	x.snap, x.rt, x.waitReply = nil, nil, nil
	x.headSince = time.Time{}
	x.x.Reset()
	x.releaseShare() // not released by finish: an exchange cut short
	x.fs = forwardState{}
	x.trace.Abandon()
}
