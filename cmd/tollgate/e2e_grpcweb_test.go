package main

// gRPC-Web through the real binary to a real grpc-go server behind
// protocol: h2c: Go HTTP clients (HTTP/1.1 and h2c) send grpc-web and
// grpc-web-text calls, unary and server-streaming, framed by hand; the
// answers' messages, trailer frames, trailers-only heads, the gateway's
// own answers and CORS are checked.

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/protobuf/proto"

	"tollgate/internal/testkit"
)

// grpcWebConfig puts the gRPC origin at addr behind protocol h2c: the
// whole TestService on one route with cors, EmptyCall on one that wants
// an API key (key-1). extra goes at the end (more routes).
func grpcWebConfig(addr, origin, extra string) string {
	return fmt.Sprintf(`
server: {listen: "LISTEN", access_log: true}
admin: {listen: "ADMIN"}
auth:
  api_keys:
    keys: [{sha256: "%x", client_id: partner}]
upstreams:
  grpc: {protocol: h2c, targets: ["%s"], timeouts: {connect: 1s, response_header: 5s}}
clients:
  default: {rate: 100000/s, burst: 100000}
routes:
  - name: keyed
    match: {path: /grpc.testing.TestService/EmptyCall}
    upstream: grpc
    auth: [api_key]
    plugins: [{cors: {allowed_origins: ["%[3]s"], allowed_methods: [POST], allowed_headers: [content-type, x-grpc-web, x-user-agent, grpc-timeout]}}]
  - name: grpcweb
    match: {path_prefix: /grpc.testing.TestService/}
    upstream: grpc
    timeout: 20s
    plugins: [{cors: {allowed_origins: ["%[3]s"], allowed_methods: [POST], allowed_headers: [content-type, x-grpc-web, x-user-agent, grpc-timeout]}}]
%s`, sha256.Sum256([]byte("key-1")), addr, origin, extra)
}

// decodeQuads decodes a grpc-web-text body one group of four at a time,
// so padded pieces may follow one another.
func decodeQuads(t *testing.T, text []byte) []byte {
	t.Helper()
	if len(text)%4 != 0 {
		t.Fatalf("text body of %d bytes is not whole groups of four: %q", len(text), text)
	}
	var out []byte
	for i := 0; i < len(text); i += 4 {
		b, err := base64.StdEncoding.DecodeString(string(text[i : i+4]))
		if err != nil {
			t.Fatalf("text body group %d %q: %v", i/4, text[i:i+4], err)
		}
		out = append(out, b...)
	}
	return out
}

// webAnswer is a gRPC-Web answer taken apart.
type webAnswer struct {
	status      int
	header      http.Header
	httpTrailer http.Header
	msgs        [][]byte // the data frames' messages, in order
	trailer     string   // the trailer frame's block, as sent
	trailers    int      // trailer frames seen
}

// field returns the value of name in the trailer frame ("" if absent).
func (a webAnswer) field(name string) string {
	for _, line := range strings.Split(a.trailer, "\r\n") {
		if n, v, ok := strings.Cut(line, ": "); ok && n == name {
			return v
		}
	}
	return ""
}

// parseWebAnswer reads resp's body (decoded first for a text answer)
// into frames: data frames first, then at most one trailer frame, last.
func parseWebAnswer(t *testing.T, resp *http.Response) webAnswer {
	t.Helper()
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/grpc-web-text") {
		body = decodeQuads(t, body)
	}
	a := webAnswer{status: resp.StatusCode, header: resp.Header, httpTrailer: resp.Trailer}
	for len(body) > 0 {
		if len(body) < 5 || len(body) < 5+int(binary.BigEndian.Uint32(body[1:5])) {
			t.Fatalf("answer body cut inside a frame: %x", body)
		}
		n := int(binary.BigEndian.Uint32(body[1:5]))
		flag, payload := body[0], body[5:5+n]
		body = body[5+n:]
		switch {
		case a.trailers > 0:
			t.Fatalf("a frame after the trailer frame (flag %#x)", flag)
		case flag == 0x80:
			a.trailer, a.trailers = string(payload), 1
		case flag == 0:
			a.msgs = append(a.msgs, payload)
		default:
			t.Fatalf("frame flag %#x", flag)
		}
	}
	return a
}

// postWeb sends a gRPC-Web call: body already framed (and encoded for
// a text call), ct its content-type.
func postWeb(t *testing.T, c *http.Client, url, ct string, body []byte, hdr ...string) webAnswer {
	t.Helper()
	req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
	req.Header.Set("Content-Type", ct)
	req.Header.Set("X-Grpc-Web", "1")
	req.Header.Set("X-User-Agent", "grpc-web-go-test/1")
	req.Header.Set("X-Trace", "web-1") // metadata testService echoes as x-seen-trace
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	return parseWebAnswer(t, resp)
}

// encodeText base64-encodes b for a grpc-web-text body.
func encodeText(b []byte) []byte { return []byte(base64.StdEncoding.EncodeToString(b)) }

// checkOK checks a translated answer that ended well: 200, the gRPC-Web
// content-type, and a trailer frame (lower-case names) with grpc-status 0
// and the origin's trailer; a unary call's head with the metadata the
// origin echoes; no HTTP trailers.
func checkOK(t *testing.T, a webAnswer, ct string, unary bool) {
	t.Helper()
	if a.status != 200 || a.header.Get("Content-Type") != ct || (unary && a.header.Get("X-Seen-Trace") != "web-1") {
		t.Fatalf("answer %d %v, want 200 with content-type %s (and x-seen-trace for a unary call)", a.status, a.header, ct)
	}
	trailer, value := "x-stream-trailer", "done"
	if unary {
		trailer, value = "x-unary-trailer", "after"
	}
	if a.trailers != 1 || a.field("grpc-status") != "0" || a.field(trailer) != value {
		t.Fatalf("trailer frame %q (%d), want grpc-status 0 and %s: %s", a.trailer, a.trailers, trailer, value)
	}
	for _, line := range strings.Split(strings.TrimSuffix(a.trailer, "\r\n"), "\r\n") {
		if name, _, _ := strings.Cut(line, ":"); name != strings.ToLower(name) {
			t.Errorf("trailer frame name %q not in lower case", name)
		}
	}
	if len(a.httpTrailer) != 0 || a.header.Get("Trailer") != "" {
		t.Errorf("HTTP trailers %v (announced %q) beside the trailer frame", a.httpTrailer, a.header.Get("Trailer"))
	}
}

// unaryPayload returns the echoed payload of a UnaryCall answer's one
// message.
func unaryPayload(t *testing.T, a webAnswer) []byte {
	t.Helper()
	if len(a.msgs) != 1 {
		t.Fatalf("%d messages, want 1", len(a.msgs))
	}
	var resp grpc_testing.SimpleResponse
	if err := proto.Unmarshal(a.msgs[0], &resp); err != nil {
		t.Fatal(err)
	}
	return resp.GetPayload().GetBody()
}

// streamRequest asks StreamingOutputCall for messages of sizes, then
// the status code (0: OK) with msg.
func streamRequest(t *testing.T, code int32, msg string, sizes ...int32) []byte {
	req := &grpc_testing.StreamingOutputCallRequest{}
	for _, n := range sizes {
		req.ResponseParameters = append(req.ResponseParameters, &grpc_testing.ResponseParameters{Size: n})
	}
	if code != 0 {
		req.ResponseStatus = &grpc_testing.EchoStatus{Code: code, Message: msg}
	}
	return grpcFrame(t, req)
}

// checkStream checks the sizes of StreamingOutputCall's messages.
func checkStream(t *testing.T, a webAnswer, sizes ...int) {
	t.Helper()
	if len(a.msgs) != len(sizes) {
		t.Fatalf("%d messages, want %d", len(a.msgs), len(sizes))
	}
	for i, m := range a.msgs {
		var resp grpc_testing.StreamingOutputCallResponse
		if err := proto.Unmarshal(m, &resp); err != nil {
			t.Fatal(err)
		}
		if n := len(resp.GetPayload().GetBody()); n != sizes[i] {
			t.Fatalf("message %d: %d bytes, want %d", i, n, sizes[i])
		}
	}
}

// TestGRPCWeb: grpc-web and grpc-web-text calls, unary and
// server-streaming, over HTTP/1.1 and h2c, reach the grpc-go server as
// gRPC and come back as gRPC-Web: messages as data frames, the trailers
// as the last frame; a trailers-only answer stays a head.
func TestGRPCWeb(t *testing.T) {
	g := startGateway(t, grpcWebConfig(startGRPCOrigin(t), "http://app.test", ""))
	h1 := &http.Client{Timeout: 10 * time.Second}
	h2 := h2cClient()
	unary := g.url("/grpc.testing.TestService/UnaryCall")
	stream := g.url("/grpc.testing.TestService/StreamingOutputCall")
	hello := grpcFrame(t, &grpc_testing.SimpleRequest{Payload: &grpc_testing.Payload{Body: []byte("hello gRPC-Web")}})

	t.Run("binary unary over HTTP/1.1", func(t *testing.T) {
		a := postWeb(t, h1, unary, "application/grpc-web+proto", hello)
		checkOK(t, a, "application/grpc-web+proto", true)
		if got := unaryPayload(t, a); string(got) != "hello gRPC-Web" {
			t.Fatalf("payload %q", got)
		}
	})
	t.Run("text unary over h2c", func(t *testing.T) {
		a := postWeb(t, h2, unary, "application/grpc-web-text", encodeText(hello), "Accept", "application/grpc-web-text")
		checkOK(t, a, "application/grpc-web-text+proto", true)
		if got := unaryPayload(t, a); string(got) != "hello gRPC-Web" {
			t.Fatalf("payload %q", got)
		}
	})
	t.Run("binary server stream over h2c", func(t *testing.T) {
		a := postWeb(t, h2, stream, "application/grpc-web", streamRequest(t, 0, "", 5, 40000, 1))
		checkOK(t, a, "application/grpc-web+proto", false)
		checkStream(t, a, 5, 40000, 1)
	})
	t.Run("text server stream over HTTP/1.1, status after the messages", func(t *testing.T) {
		a := postWeb(t, h1, stream, "application/grpc-web-text+proto", encodeText(streamRequest(t, 9, "after two", 3, 70000)))
		checkStream(t, a, 3, 70000)
		if a.header.Get("Content-Type") != "application/grpc-web-text+proto" || a.field("grpc-status") != "9" ||
			a.field("grpc-message") != "after two" || a.field("x-stream-trailer") != "done" {
			t.Fatalf("answer %v, trailer frame %q: want grpc-status 9 after two", a.header, a.trailer)
		}
	})
	t.Run("binary call, answer text as Accept asks", func(t *testing.T) {
		a := postWeb(t, h1, unary, "application/grpc-web+proto", hello, "Accept", "application/grpc-web-text")
		checkOK(t, a, "application/grpc-web-text+proto", true)
		if got := unaryPayload(t, a); string(got) != "hello gRPC-Web" {
			t.Fatalf("payload %q", got)
		}
	})
	for name, c := range map[string]*http.Client{"HTTP/1.1": h1, "h2c": h2} {
		t.Run("trailers-only over "+name, func(t *testing.T) {
			req := grpcFrame(t, &grpc_testing.SimpleRequest{ResponseStatus: &grpc_testing.EchoStatus{Code: 5, Message: "no such thing"}})
			for _, ct := range []string{"application/grpc-web", "application/grpc-web-text"} {
				body := req
				if strings.HasSuffix(ct, "text") {
					body = encodeText(req)
				}
				a := postWeb(t, c, unary, ct, body)
				if a.status != 200 || a.header.Get("Grpc-Status") != "5" || a.header.Get("Grpc-Message") != "no such thing" ||
					a.header.Get("X-Unary-Trailer") != "after" || len(a.msgs) != 0 || a.trailers != 0 ||
					!strings.HasPrefix(a.header.Get("Content-Type"), ct+"+proto") {
					t.Fatalf("%s: %d %v, %d messages, %d trailer frames: want a head with grpc-status 5", ct, a.status, a.header, len(a.msgs), a.trailers)
				}
			}
		})
	}
	t.Run("large text body with Content-Length, streamed up decoded", func(t *testing.T) {
		big := bytes.Repeat([]byte("0123456789abcdef"), 100<<10/16) // 100 KiB, past request_body's 64 KiB
		a := postWeb(t, h1, unary, "application/grpc-web-text",
			encodeText(grpcFrame(t, &grpc_testing.SimpleRequest{Payload: &grpc_testing.Payload{Body: big}})))
		checkOK(t, a, "application/grpc-web-text+proto", true)
		if got := unaryPayload(t, a); !bytes.Equal(got, big) {
			t.Fatalf("payload of %d bytes, want the %d sent", len(got), len(big))
		}
	})
	t.Run("text body in odd chunks and padded pieces", func(t *testing.T) {
		// Two pieces encoded apart (the first padded), then cut into
		// chunks of 1, 2, 3... bytes that split groups anywhere.
		text := append(encodeText(hello[:7]), encodeText(hello[7:])...)
		var raw strings.Builder
		fmt.Fprintf(&raw, "POST /grpc.testing.TestService/UnaryCall HTTP/1.1\r\nHost: gw\r\nContent-Type: application/grpc-web-text\r\n"+
			"X-Trace: web-1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
		for i, n := 0, 1; i < len(text); i, n = i+n, n+1 {
			piece := text[i:min(i+n, len(text))]
			fmt.Fprintf(&raw, "%x\r\n%s\r\n", len(piece), piece)
		}
		raw.WriteString("0\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(rawExchange(t, g.addr, raw.String(), 10*time.Second))), nil)
		if err != nil {
			t.Fatal(err)
		}
		a := parseWebAnswer(t, resp)
		checkOK(t, a, "application/grpc-web-text+proto", true)
		if got := unaryPayload(t, a); string(got) != "hello gRPC-Web" {
			t.Fatalf("payload %q", got)
		}
	})
	t.Run("text body that is not base64", func(t *testing.T) {
		a := postWeb(t, h1, unary, "application/grpc-web-text", []byte("AAAA!!!!"))
		if a.status != 200 || a.header.Get("Grpc-Status") != "13" || a.header.Get("Content-Type") != "application/grpc-web-text" {
			t.Fatalf("%d %v: want the gateway's trailers-only INTERNAL", a.status, a.header)
		}
		waitFor(t, func() bool {
			return g.metric(`tollgate_requests_total{code="400",protocol="http1",route="grpcweb"}`) == 1
		})
	})
	if v := g.metric(`tollgate_requests_total{code="200",protocol="h2",route="grpcweb"}`); v < 4 {
		t.Errorf("h2 calls counted %v, want at least 4", v)
	}
}

// TestGRPCWebGatewayAnswersAndCORS: the preflight a browser sends before
// a gRPC-Web call is allowed with the headers gRPC-Web clients send; the
// gateway's own answer to a call (an API key missing) is a trailers-only
// gRPC-Web head a page can read: the call's content-type, CORS headers,
// grpc-status and grpc-message exposed.
func TestGRPCWebGatewayAnswersAndCORS(t *testing.T) {
	const origin = "http://app.test"
	g := startGateway(t, grpcWebConfig(startGRPCOrigin(t), origin, ""))
	req, _ := http.NewRequest("OPTIONS", g.url("/grpc.testing.TestService/UnaryCall"), nil)
	req.Header.Set("Origin", origin)
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "content-type,grpc-timeout,x-grpc-web,x-user-agent")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != origin ||
		resp.Header.Get("Access-Control-Allow-Headers") != "content-type, x-grpc-web, x-user-agent, grpc-timeout" ||
		resp.Header.Get("Access-Control-Allow-Methods") != "POST" {
		t.Fatalf("preflight: %d %v", resp.StatusCode, resp.Header)
	}

	h1 := &http.Client{Timeout: 10 * time.Second}
	for _, ct := range []string{"application/grpc-web-text", "application/grpc-web+proto"} {
		a := postWeb(t, h1, g.url("/grpc.testing.TestService/EmptyCall"), ct, []byte{}, "Origin", origin)
		exposed := a.header.Get("Access-Control-Expose-Headers")
		if a.status != 200 || a.header.Get("Content-Type") != ct || a.header.Get("Grpc-Status") != "16" ||
			a.header.Get("Grpc-Message") == "" || len(a.msgs) != 0 || a.trailers != 0 {
			t.Fatalf("%s: %d %v: want a trailers-only UNAUTHENTICATED", ct, a.status, a.header)
		}
		if a.header.Get("Access-Control-Allow-Origin") != origin || !strings.Contains(exposed, "Grpc-Status") ||
			!strings.Contains(exposed, "Grpc-Message") {
			t.Fatalf("%s: CORS headers %v: want the origin allowed and grpc-status, grpc-message exposed", ct, a.header)
		}
	}
	// With the key the same call reaches the origin (EmptyCall is not
	// implemented there: its own trailers-only UNIMPLEMENTED), CORS headers on.
	a := postWeb(t, h1, g.url("/grpc.testing.TestService/EmptyCall"), "application/grpc-web", grpcFrame(t, &grpc_testing.Empty{}),
		"Origin", origin, "X-Api-Key", "key-1")
	if a.header.Get("Grpc-Status") != "12" || a.header.Get("Content-Type") != "application/grpc-web+proto" ||
		a.header.Get("Access-Control-Allow-Origin") != origin {
		t.Fatalf("keyed call: %d %v: want the origin's UNIMPLEMENTED as gRPC-Web, CORS headers on", a.status, a.header)
	}
}

// TestGRPCWebOtherAnswers: what is not a gRPC server's usual answer. An
// HTTP/2 upstream that answers gRPC with a Content-Length body and the
// status in the head: a binary call gets it as it is, a text call gets
// it encoded and chunked (its length changed). An answer that is not
// gRPC (an error page) passes untranslated. A route to an HTTP/1.1
// upstream passes gRPC-Web as it came (a server that speaks it itself).
func TestGRPCWebOtherAnswers(t *testing.T) {
	type seen struct{ ct, te, body string }
	got := make(chan seen, 10)
	msg := []byte{0, 0, 0, 0, 3, 'a', 'b', 'c'}
	h2 := testkit.StartH2C(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- seen{r.Header.Get("Content-Type"), r.Header.Get("Te"), string(body)}
		if r.URL.Path == "/page" {
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(404)
			io.WriteString(w, "no such page")
			return
		}
		w.Header().Set("Content-Type", "application/grpc")
		w.Header().Set("Grpc-Status", "0")
		w.Header().Set("Content-Length", fmt.Sprint(len(msg)))
		w.Write(msg)
	}), 0)
	h1 := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- seen{r.Header.Get("Content-Type"), r.Header.Get("Te"), string(body)}
		w.Header().Set("Content-Type", "application/grpc-web+proto")
		w.Write(body)
	})
	g := startGateway(t, fmt.Sprintf(`
server: {listen: "LISTEN"}
admin: {listen: "ADMIN"}
upstreams:
  h2: {protocol: h2c, targets: ["%s"]}
  h1: {targets: ["%s"]}
routes:
  - {name: h1, match: {path_prefix: /h1/}, upstream: h1}
  - {name: h2, match: {path_prefix: /}, upstream: h2}
`, h2.Addr, h1.addr))
	c := &http.Client{Timeout: 10 * time.Second}
	post := func(path, ct string, body []byte) (*http.Response, []byte, seen) {
		t.Helper()
		resp, err := c.Post(g.url(path), ct, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		select {
		case s := <-got:
			return resp, b, s
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: the upstream saw nothing", path)
		}
		return nil, nil, seen{}
	}

	resp, body, up := post("/sized", "application/grpc-web", msg)
	if up.ct != "application/grpc" || up.te != "trailers" || up.body != string(msg) {
		t.Errorf("the HTTP/2 upstream saw %+v, want application/grpc, te: trailers and the message", up)
	}
	if resp.Header.Get("Content-Type") != "application/grpc-web+proto" || resp.ContentLength != int64(len(msg)) ||
		!bytes.Equal(body, msg) || resp.Header.Get("Grpc-Status") != "0" {
		t.Errorf("binary call, sized gRPC answer: %v %q", resp.Header, body)
	}
	resp, body, up = post("/sized", "application/grpc-web-text+proto", encodeText(msg))
	if up.ct != "application/grpc+proto" || up.body != string(msg) {
		t.Errorf("text call: the upstream saw %+v, want the message decoded", up)
	}
	if resp.Header.Get("Content-Type") != "application/grpc-web-text+proto" || resp.ContentLength != -1 ||
		!bytes.Equal(decodeQuads(t, body), msg) {
		t.Errorf("text call, sized gRPC answer: %v (length %d) %q, want it encoded and chunked", resp.Header, resp.ContentLength, body)
	}
	resp, body, _ = post("/page", "application/grpc-web-text", encodeText(msg))
	if resp.StatusCode != 404 || resp.Header.Get("Content-Type") != "text/plain" || string(body) != "no such page" {
		t.Errorf("an answer that is not gRPC: %d %v %q, want it as the upstream sent it", resp.StatusCode, resp.Header, body)
	}
	text := encodeText(msg)
	resp, body, up = post("/h1/x", "application/grpc-web-text", text)
	if up.ct != "application/grpc-web-text" || up.body != string(text) || resp.Header.Get("Content-Type") != "application/grpc-web+proto" ||
		string(body) != string(text) {
		t.Errorf("HTTP/1.1 upstream: it saw %+v; answer %v %q: want gRPC-Web passed as it came", up, resp.Header, body)
	}
}
