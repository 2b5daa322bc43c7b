// Command idleconns opens many keep-alive HTTP/1.1 connections to one
// address, sends one request on each, reads the response, and then keeps
// them all open and idle so the memory a proxy spends per idle connection
// can be measured. After -hold it sends a second request on every
// connection to check the proxy kept them usable, prints the outcome and
// exits. With -h2c the connections speak HTTP/2 in cleartext with prior
// knowledge (the client preface, SETTINGS, one GET on stream 1; the check
// is stream 3), for the idle HTTP/2 measurement of bench/h2.sh.
//
// Usage:
//
//	idleconns -addr 127.0.0.1:8080 -n 10000 -path /bytes/128 -hold 5s
//	idleconns -h2c -addr 127.0.0.1:8080 -n 2000
//
// Output, one line per phase (scripts wait for the "ready" line):
//
//	ready n=10000 failed=0 elapsed=1.2s
//	check ok=10000 failed=0
//
// Connections are only held open: no goroutine per connection remains once
// a connection is established, so this program's own footprint stays small.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to connect to")
	n := flag.Int("n", 10000, "number of connections")
	path := flag.String("path", "/bytes/128", "request path")
	hold := flag.Duration("hold", 5*time.Second, "how long to keep the connections idle before the check")
	workers := flag.Int("workers", 64, "connections opened concurrently")
	timeout := flag.Duration("timeout", 10*time.Second, "per-request timeout")
	h2c := flag.Bool("h2c", false, "speak HTTP/2 with prior knowledge instead of HTTP/1.1")
	flag.Parse()

	req := []byte("GET " + *path + " HTTP/1.1\r\nHost: " + *addr + "\r\nUser-Agent: idleconns\r\n\r\n")
	dial := func() (heldConn, error) {
		c, err := net.DialTimeout("tcp", *addr, *timeout)
		if err != nil {
			return nil, err
		}
		return &h1Conn{Conn: c, req: req, timeout: *timeout}, nil
	}
	if *h2c {
		dial = func() (heldConn, error) {
			c, err := dialH2C(*addr, *timeout)
			if err != nil {
				return nil, err
			}
			return &h2Held{h2cConn: c, authority: *addr, path: *path, timeout: *timeout}, nil
		}
	}
	conns := make([]heldConn, *n)
	var failed atomic.Int64
	var firstErr atomic.Value
	start := time.Now()
	run(*n, *workers, func(i int) {
		c, err := dial()
		if err == nil {
			err = c.roundTrip()
			if err != nil {
				c.Close()
			}
		}
		if err != nil {
			failed.Add(1)
			firstErr.CompareAndSwap(nil, err.Error())
			return
		}
		conns[i] = c
	})
	fmt.Printf("ready n=%d failed=%d elapsed=%s\n", int64(*n)-failed.Load(), failed.Load(), time.Since(start).Round(time.Millisecond))
	if e := firstErr.Load(); e != nil {
		fmt.Fprintf(os.Stderr, "idleconns: first error: %v\n", e)
	}

	time.Sleep(*hold)

	var ok, bad atomic.Int64
	var checkErr atomic.Value
	run(*n, *workers, func(i int) {
		c := conns[i]
		if c == nil {
			return
		}
		if err := c.roundTrip(); err != nil {
			bad.Add(1)
			checkErr.CompareAndSwap(nil, err.Error())
		} else {
			ok.Add(1)
		}
		c.Close()
	})
	fmt.Printf("check ok=%d failed=%d\n", ok.Load(), bad.Load())
	if e := checkErr.Load(); e != nil {
		fmt.Fprintf(os.Stderr, "idleconns: first check error: %v\n", e)
	}
	if failed.Load() > 0 || bad.Load() > 0 {
		os.Exit(1)
	}
}

// heldConn is one held connection: a request on it, then Close.
type heldConn interface {
	roundTrip() error
	Close() error
}

// h1Conn is an HTTP/1.1 keep-alive connection.
type h1Conn struct {
	net.Conn
	req     []byte
	timeout time.Duration
}

func (c *h1Conn) roundTrip() error { return roundTrip(c.Conn, c.req, c.timeout) }

// h2Held is an h2c connection asking for one path on each round trip.
type h2Held struct {
	*h2cConn
	authority, path string
	timeout         time.Duration
}

func (c *h2Held) roundTrip() error { return c.h2cConn.roundTrip(c.authority, c.path, c.timeout) }

// Close closes the connection.
func (c *h2Held) Close() error { return c.c.Close() }

// run calls f(i) for i in [0,n) on w goroutines.
func run(n, w int, f func(int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for k := 0; k < w; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				f(i)
			}
		}()
	}
	wg.Wait()
}

// roundTrip writes req and reads one response with a Content-Length body.
// The reader is not kept, so the response must be read exactly.
func roundTrip(c net.Conn, req []byte, timeout time.Duration) error {
	c.SetDeadline(time.Now().Add(timeout))
	defer c.SetDeadline(time.Time{})
	if _, err := c.Write(req); err != nil {
		return err
	}
	// A one-byte-at-a-time reader would be slow; a bufio.Reader may read
	// past the response, which is fine because nothing else is in flight.
	br := bufio.NewReaderSize(c, 4096)
	status, err := br.ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(status, "HTTP/1.1 200") {
		return fmt.Errorf("status %q", strings.TrimSpace(status))
	}
	length := int64(-1)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return err
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			break
		}
		k, v, _ := strings.Cut(line, ":")
		switch strings.ToLower(k) {
		case "content-length":
			length, err = strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return err
			}
		case "connection":
			if strings.Contains(strings.ToLower(v), "close") {
				return errors.New("server closes the connection")
			}
		}
	}
	if length < 0 {
		return errors.New("response without Content-Length")
	}
	_, err = io.CopyN(io.Discard, br, length)
	return err
}
