// Command origin is the benchmark and integration-test origin server for
// tollgate. It speaks just enough HTTP/1.1 (keep-alive, pipelining,
// Content-Length and chunked request bodies, Expect: 100-continue) over a
// hand-written loop so that it stays far cheaper per request than the
// proxies measured in front of it. It uses the standard library only.
//
// Usage:
//
//	origin -listen 127.0.0.1:9000 [-tls-cert server.pem -tls-key server.key]
//
// With -tls-cert and -tls-key the listener speaks TLS (the Go standard
// library's defaults: TLS 1.2 and 1.3, session tickets on); /stream bodies
// are then written through TLS from the reused buffer (no sendfile).
//
// Endpoints (any other path answers 404):
//
//	GET  /bytes/N       N bytes of the body pattern with Content-Length;
//	                    payloads up to 1 MiB are built once and cached
//	POST|PUT /bytes/N   reads and discards the request body (Content-Length
//	                    or chunked), then answers as GET /bytes/N (a small
//	                    answer to a request with a body, e.g. a JSON POST)
//	GET  /stream/N      N bytes of the body pattern; large bodies are sent
//	                    from a reused buffer (sendfile(2) from an unlinked
//	                    pattern file unless -sendfile=false)
//	POST|PUT /upload    reads and counts the body (Content-Length or
//	                    chunked); answers 200 with the byte count as a
//	                    decimal body; with ?crc=1 also X-Body-Crc32 (IEEE,
//	                    hex) over the body
//	GET  /slow?ms=M     sleeps M milliseconds, then answers 200 "ok"
//	GET  /load          sleeps base + k*inflight (inflight counts the
//	                    /load requests in progress, this one included);
//	                    base and k come from -load-base and -load-k or
//	                    from ?base_ms= and ?k_ms=; the X-Inflight header
//	                    carries the count seen
//	GET  /status/N      answers status N with a short body
//	GET  /conns         number of TCP connections accepted so far
//	GET  /requests      number of requests served so far, /conns,
//	                    /requests, /tls and /handshakes excluded
//	GET  /tls           the connection's TLS version, cipher suite and
//	                    whether the session was resumed, e.g.
//	                    "TLS 1.3 TLS_AES_128_GCM_SHA256 resumed=false"
//	                    ("plain" without TLS)
//	GET  /handshakes    TLS handshakes completed so far, full and resumed:
//	                    "full=N resumed=M"
//
// The body pattern is the 64-byte line "abc…xyzABC…XYZ0123456789-\n"
// repeated, so byte i of any body is Pattern[i%64] and a client can check
// what it got.
//
// Every response carries Content-Length. A request with "Connection: close"
// or an HTTP/1.0 request without "Connection: keep-alive" is answered and
// the connection closed.
package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"hash/crc32"
	"io"
	"log"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Pattern is the 64-byte unit every generated body repeats.
const Pattern = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-\n"

const (
	maxCached   = 1 << 20   // /bytes/N bodies up to this size are cached whole
	streamChunk = 256 << 10 // reused write buffer size (a multiple of 64)
	patternFile = 4 << 20   // sendfile source size (a multiple of 64)
	maxHead     = 64 << 10  // request heads larger than this are refused
)

var (
	connsAccepted atomic.Int64
	tlsFull       atomic.Int64 // TLS handshakes without resumption
	tlsResumed    atomic.Int64 // TLS handshakes that resumed a session
	requestsDone  atomic.Int64
	loadInflight  atomic.Int64

	loadBase time.Duration
	loadK    time.Duration

	// streamBuf is read-only once built, so every connection shares it.
	streamBuf []byte
	// sendFD is the pattern file for sendfile, or -1.
	sendFD = -1

	cache sync.Map // int -> []byte (full response: head and body)

	readBufs = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}
)

func main() {
	listen := flag.String("listen", "127.0.0.1:9000", "address to listen on")
	useSendfile := flag.Bool("sendfile", true, "send /stream bodies with sendfile(2) from a pattern file")
	flag.DurationVar(&loadBase, "load-base", time.Millisecond, "/load base latency")
	flag.DurationVar(&loadK, "load-k", time.Millisecond, "/load extra latency per in-flight /load request")
	tlsCert := flag.String("tls-cert", "", "PEM certificate (chain): serve TLS (with -tls-key)")
	tlsKey := flag.String("tls-key", "", "PEM private key of -tls-cert")
	flag.Parse()

	streamBuf = bytes.Repeat([]byte(Pattern), streamChunk/len(Pattern))
	if *useSendfile {
		fd, err := makePatternFile()
		if err != nil {
			log.Printf("origin: sendfile disabled: %v", err)
		} else {
			sendFD = fd
		}
	}

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatalf("origin: %v", err)
	}
	if *tlsCert != "" || *tlsKey != "" {
		cert, err := tls.LoadX509KeyPair(*tlsCert, *tlsKey)
		if err != nil {
			log.Fatalf("origin: -tls-cert/-tls-key: %v", err)
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}})
	}
	// The line below is the readiness signal scripts wait for.
	fmt.Printf("origin listening on %s\n", ln.Addr())
	for {
		c, err := ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			log.Fatalf("origin: accept: %v", err)
		}
		connsAccepted.Add(1)
		go serve(c)
	}
}

// makePatternFile writes the pattern to an unlinked temporary file and
// returns its descriptor.
func makePatternFile() (int, error) {
	f, err := os.CreateTemp("", "origin-pattern-*")
	if err != nil {
		return -1, err
	}
	defer f.Close()
	os.Remove(f.Name())
	for n := 0; n < patternFile; n += len(streamBuf) {
		if _, err := f.Write(streamBuf); err != nil {
			return -1, err
		}
	}
	return syscall.Dup(int(f.Fd()))
}

// request is the part of a request head the origin cares about.
type request struct {
	method, target string
	contentLength  int64 // -1 when absent
	chunked        bool
	close          bool
	expect100      bool
}

// conn is one client connection: a *net.TCPConn, or a *tls.Conn with
// -tls-cert.
type conn struct {
	c  net.Conn
	br *bufio.Reader
	bw *bufio.Writer
}

func serve(nc net.Conn) {
	defer nc.Close()
	if tc, ok := nc.(*tls.Conn); ok && !handshake(tc) {
		return
	}
	c := &conn{c: nc, br: bufio.NewReaderSize(nc, 4096), bw: bufio.NewWriterSize(nc, 4096)}
	for {
		req, err := c.readHead()
		if err != nil {
			if err != io.EOF && !errors.Is(err, net.ErrClosed) && !isReset(err) {
				c.bw.WriteString("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
				c.bw.Flush()
			}
			return
		}
		if err := c.handle(req); err != nil {
			return
		}
		if req.close {
			c.bw.Flush()
			return
		}
		// Flush only when no pipelined request is waiting, so pipelined
		// responses go out together.
		if c.br.Buffered() == 0 {
			if err := c.bw.Flush(); err != nil {
				return
			}
		}
	}
}

// handshake completes a TLS handshake (10 s at most) and counts it.
func handshake(tc *tls.Conn) bool {
	tc.SetDeadline(time.Now().Add(10 * time.Second))
	if err := tc.Handshake(); err != nil {
		return false
	}
	tc.SetDeadline(time.Time{})
	if tc.ConnectionState().DidResume {
		tlsResumed.Add(1)
	} else {
		tlsFull.Add(1)
	}
	return true
}

func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// readHead parses one request head.
func (c *conn) readHead() (*request, error) {
	req := &request{contentLength: -1}
	total := 0
	line, err := c.readLine(&total)
	if err != nil {
		return nil, err
	}
	for len(line) == 0 { // tolerate stray CRLF between requests
		if line, err = c.readLine(&total); err != nil {
			return nil, err
		}
	}
	sp1 := bytes.IndexByte(line, ' ')
	sp2 := bytes.LastIndexByte(line, ' ')
	if sp1 <= 0 || sp2 <= sp1 {
		return nil, errors.New("bad request line")
	}
	req.method = string(line[:sp1])
	req.target = string(line[sp1+1 : sp2])
	proto := line[sp2+1:]
	http10 := string(proto) == "HTTP/1.0"
	keepAlive10 := false
	for {
		line, err = c.readLine(&total)
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		if len(line) == 0 {
			break
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return nil, errors.New("bad header line")
		}
		name, value := line[:colon], bytes.TrimSpace(line[colon+1:])
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			n, err := strconv.ParseInt(string(value), 10, 64)
			if err != nil || n < 0 {
				return nil, errors.New("bad Content-Length")
			}
			req.contentLength = n
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			req.chunked = bytes.Contains(bytes.ToLower(value), []byte("chunked"))
		case bytes.EqualFold(name, []byte("Connection")):
			v := bytes.ToLower(value)
			if bytes.Contains(v, []byte("close")) {
				req.close = true
			}
			if bytes.Contains(v, []byte("keep-alive")) {
				keepAlive10 = true
			}
		case bytes.EqualFold(name, []byte("Expect")):
			req.expect100 = bytes.EqualFold(value, []byte("100-continue"))
		}
	}
	if http10 && !keepAlive10 {
		req.close = true
	}
	return req, nil
}

// readLine returns one line without its CRLF; the slice is valid until the
// next read.
func (c *conn) readLine(total *int) ([]byte, error) {
	line, err := c.br.ReadSlice('\n')
	*total += len(line)
	if *total > maxHead {
		return nil, errors.New("request head too large")
	}
	if err != nil {
		if err == bufio.ErrBufferFull {
			return nil, errors.New("header line too long")
		}
		if err == io.EOF && len(line) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

// handle answers one request. A non-nil error means the connection must be
// closed.
func (c *conn) handle(req *request) error {
	path, query := req.target, ""
	for i := 0; i < len(path); i++ {
		if path[i] == '?' {
			path, query = path[:i], path[i+1:]
			break
		}
	}
	hasBody := req.chunked || req.contentLength > 0
	if path == "/upload" && (req.method == "POST" || req.method == "PUT") {
		requestsDone.Add(1)
		return c.upload(req, queryValue(query, "crc") == "1")
	}
	// Every other endpoint ignores a request body, but must consume it to
	// keep the connection in sync.
	if hasBody {
		if err := c.continue100(req); err != nil {
			return err
		}
		if _, _, err := c.readBody(req, false); err != nil {
			return err
		}
	}
	switch {
	case path == "/v1/traces": // an OTLP/HTTP sink for the traced gateway scenario
		return c.text(200, "", req.close)
	case path == "/conns":
		return c.text(200, strconv.FormatInt(connsAccepted.Load(), 10), req.close)
	case path == "/requests":
		return c.text(200, strconv.FormatInt(requestsDone.Load(), 10), req.close)
	case path == "/tls":
		return c.text(200, c.tlsState(), req.close)
	case path == "/handshakes":
		return c.text(200, fmt.Sprintf("full=%d resumed=%d", tlsFull.Load(), tlsResumed.Load()), req.close)
	}
	requestsDone.Add(1)
	switch {
	case hasPrefix(path, "/bytes/") && (isGetOrHead(req.method) || req.method == "POST" || req.method == "PUT"):
		// A POST or PUT body was read above, like any other body.
		n, err := strconv.ParseInt(path[len("/bytes/"):], 10, 64)
		if err != nil || n < 0 {
			return c.text(400, "bad size", req.close)
		}
		if n <= maxCached && !req.close && req.method != "HEAD" {
			_, err := c.bw.Write(cachedBytes(int(n)))
			return err
		}
		return c.body(req, n)
	case hasPrefix(path, "/stream/") && isGetOrHead(req.method):
		n, err := strconv.ParseInt(path[len("/stream/"):], 10, 64)
		if err != nil || n < 0 {
			return c.text(400, "bad size", req.close)
		}
		return c.body(req, n)
	case path == "/slow":
		ms, _ := strconv.Atoi(queryValue(query, "ms"))
		time.Sleep(time.Duration(ms) * time.Millisecond)
		return c.text(200, "ok", req.close)
	case path == "/load":
		base, k := loadBase, loadK
		if v := queryValue(query, "base_ms"); v != "" {
			ms, _ := strconv.ParseFloat(v, 64)
			base = time.Duration(ms * float64(time.Millisecond))
		}
		if v := queryValue(query, "k_ms"); v != "" {
			ms, _ := strconv.ParseFloat(v, 64)
			k = time.Duration(ms * float64(time.Millisecond))
		}
		n := loadInflight.Add(1)
		time.Sleep(base + time.Duration(n)*k)
		loadInflight.Add(-1)
		return c.head(200, 2, req.close, "X-Inflight: "+strconv.FormatInt(n, 10)+"\r\n", "ok")
	case hasPrefix(path, "/status/"):
		code, err := strconv.Atoi(path[len("/status/"):])
		if err != nil || code < 200 || code > 999 {
			return c.text(400, "bad status", req.close)
		}
		return c.text(code, "status "+strconv.Itoa(code), req.close)
	default:
		return c.text(404, "not found", req.close)
	}
}

// tlsState describes the connection's TLS session for GET /tls.
func (c *conn) tlsState() string {
	tc, ok := c.c.(*tls.Conn)
	if !ok {
		return "plain"
	}
	s := tc.ConnectionState()
	return fmt.Sprintf("%s %s resumed=%t", tls.VersionName(s.Version), tls.CipherSuiteName(s.CipherSuite), s.DidResume)
}

func isGetOrHead(m string) bool { return m == "GET" || m == "HEAD" }

func hasPrefix(s, p string) bool { return len(s) >= len(p) && s[:len(p)] == p }

// queryValue returns the raw value of key in a query string.
func queryValue(q, key string) string {
	for q != "" {
		var kv string
		if i := strings.IndexByte(q, '&'); i >= 0 {
			kv, q = q[:i], q[i+1:]
		} else {
			kv, q = q, ""
		}
		if hasPrefix(kv, key+"=") {
			return kv[len(key)+1:]
		}
	}
	return ""
}

// cachedBytes returns the whole response for /bytes/n on a keep-alive
// connection.
func cachedBytes(n int) []byte {
	if v, ok := cache.Load(n); ok {
		return v.([]byte)
	}
	head := fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n", n)
	b := make([]byte, 0, len(head)+n)
	b = append(b, head...)
	for len(b) < len(head)+n {
		rest := len(head) + n - len(b)
		if rest > len(streamBuf) {
			rest = len(streamBuf)
		}
		b = append(b, streamBuf[:rest]...)
	}
	v, _ := cache.LoadOrStore(n, b)
	return v.([]byte)
}

func statusText(code int) string {
	switch code {
	case 200:
		return "OK"
	case 400:
		return "Bad Request"
	case 404:
		return "Not Found"
	case 500:
		return "Internal Server Error"
	case 502:
		return "Bad Gateway"
	case 503:
		return "Service Unavailable"
	case 504:
		return "Gateway Timeout"
	}
	return "Status"
}

// head writes a response head (and body when given). Bodies of status 1xx,
// 204 and 304 are not sent.
func (c *conn) head(code int, length int64, close bool, extra, body string) error {
	c.bw.WriteString("HTTP/1.1 ")
	c.bw.WriteString(strconv.Itoa(code))
	c.bw.WriteByte(' ')
	c.bw.WriteString(statusText(code))
	c.bw.WriteString("\r\n")
	noBody := code == 204 || code == 304
	if !noBody {
		c.bw.WriteString("Content-Length: ")
		c.bw.WriteString(strconv.FormatInt(length, 10))
		c.bw.WriteString("\r\n")
	}
	c.bw.WriteString(extra)
	if close {
		c.bw.WriteString("Connection: close\r\n")
	}
	_, err := c.bw.WriteString("\r\n")
	if !noBody && body != "" {
		_, err = c.bw.WriteString(body)
	}
	return err
}

func (c *conn) text(code int, body string, close bool) error {
	return c.head(code, int64(len(body)), close, "Content-Type: text/plain\r\n", body)
}

// body sends n pattern bytes after the head.
func (c *conn) body(req *request, n int64) error {
	if err := c.head(200, n, req.close, "Content-Type: application/octet-stream\r\n", ""); err != nil {
		return err
	}
	if req.method == "HEAD" {
		return nil
	}
	if n <= int64(c.bw.Available()) {
		_, err := c.bw.Write(streamBuf[:n])
		return err
	}
	if err := c.bw.Flush(); err != nil {
		return err
	}
	var off int64
	if tc, ok := c.c.(*net.TCPConn); ok && sendFD >= 0 && n >= 64<<10 {
		return sendfile(tc, n)
	}
	for off < n {
		chunk := n - off
		if chunk > int64(len(streamBuf)) {
			chunk = int64(len(streamBuf))
		}
		w, err := c.c.Write(streamBuf[:chunk])
		off += int64(w)
		if err != nil {
			return err
		}
	}
	return nil
}

// sendfile sends n pattern bytes with sendfile(2) from the pattern file,
// going through the runtime poller so a full socket buffer parks the
// goroutine instead of a thread.
func sendfile(tc *net.TCPConn, n int64) error {
	rc, err := tc.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	var sent int64
	for n > 0 && serr == nil {
		err := rc.Write(func(fd uintptr) bool {
			for n > 0 {
				// Any file offset congruent to sent mod 64 continues the
				// pattern; a partial write leaves sent anywhere.
				off := sent % int64(len(Pattern))
				chunk := n
				if chunk > patternFile-off {
					chunk = patternFile - off
				}
				w, e := syscall.Sendfile(int(fd), sendFD, &off, int(chunk))
				if w > 0 {
					n -= int64(w)
					sent += int64(w)
				}
				if e == syscall.EAGAIN {
					return false
				}
				if e == syscall.EINTR {
					continue
				}
				if e != nil {
					serr = e
					return true
				}
				if w == 0 {
					serr = io.ErrUnexpectedEOF
					return true
				}
			}
			return true
		})
		if err != nil {
			return err
		}
	}
	return serr
}

// upload counts (and optionally checksums) the request body, then answers
// its length.
func (c *conn) upload(req *request, withCRC bool) error {
	if err := c.continue100(req); err != nil {
		return err
	}
	n, sum, err := c.readBody(req, withCRC)
	if err != nil {
		return err
	}
	extra := "Content-Type: text/plain\r\n"
	if withCRC {
		extra += fmt.Sprintf("X-Body-Crc32: %08x\r\n", sum)
	}
	body := strconv.FormatInt(n, 10)
	return c.head(200, int64(len(body)), req.close, extra, body)
}

// continue100 sends "100 Continue" when the client waits for it before
// sending its body.
func (c *conn) continue100(req *request) error {
	if req.expect100 && (req.chunked || req.contentLength > 0) {
		c.bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
		return c.bw.Flush()
	}
	return nil
}

// readBody consumes the request body and returns its length and, when
// withCRC is set, its CRC-32.
func (c *conn) readBody(req *request, withCRC bool) (int64, uint32, error) {
	bp := readBufs.Get().(*[]byte)
	defer readBufs.Put(bp)
	buf := *bp
	var h uint32
	var total int64
	consume := func(limit int64) error {
		for limit > 0 {
			// Drain what bufio already holds first, then read the socket
			// directly in large chunks.
			var chunk []byte
			if c.br.Buffered() > 0 {
				k := c.br.Buffered()
				if int64(k) > limit {
					k = int(limit)
				}
				chunk, _ = c.br.Peek(k)
				if withCRC {
					h = crc32.Update(h, crc32.IEEETable, chunk)
				}
				c.br.Discard(k)
				limit -= int64(k)
				total += int64(k)
				continue
			}
			want := int64(len(buf))
			if want > limit {
				want = limit
			}
			r, err := c.c.Read(buf[:want])
			if r > 0 {
				if withCRC {
					h = crc32.Update(h, crc32.IEEETable, buf[:r])
				}
				limit -= int64(r)
				total += int64(r)
			}
			if err != nil {
				if err == io.EOF {
					return io.ErrUnexpectedEOF
				}
				return err
			}
		}
		return nil
	}
	if !req.chunked {
		if req.contentLength > 0 {
			if err := consume(req.contentLength); err != nil {
				return total, h, err
			}
		}
		return total, h, nil
	}
	for {
		var scratch int
		line, err := c.readLine(&scratch)
		if err != nil {
			return total, h, err
		}
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		size, err := strconv.ParseInt(string(bytes.TrimSpace(line)), 16, 64)
		if err != nil || size < 0 {
			return total, h, errors.New("bad chunk size")
		}
		if size == 0 {
			for { // trailers until the empty line
				scratch = 0
				l, err := c.readLine(&scratch)
				if err != nil {
					return total, h, err
				}
				if len(l) == 0 {
					return total, h, nil
				}
			}
		}
		if err := consume(size); err != nil {
			return total, h, err
		}
		scratch = 0
		if l, err := c.readLine(&scratch); err != nil || len(l) != 0 {
			return total, h, errors.New("bad chunk end")
		}
	}
}
