// Command upgradeprobe is what bench/upgrade.sh keeps open across
// tollgate's binary upgrades besides the wrk load: a WebSocket-style
// tunnel, uploads in flight, and a client spending a quota. It runs the
// tunnel's echo origin itself, and until SIGINT/SIGTERM (or -duration) it
//
//   - sends a frame through one tunnel every -frame-every and wants it
//     echoed (the tunnel is opened once, on the process serving at start,
//     and must survive every upgrade while that process drains);
//   - uploads -upload-bytes to /upload at -upload-rate, one after another
//     (the origin answers the byte count), so an upload is in flight
//     across each upgrade;
//   - GETs -quota-path every -quota-every and follows X-RateLimit-Remaining: a
//     value that goes up by more than the refill allows is a reset.
//
// Then it closes the tunnel, prints one line per probe and exits 1 if any
// failed.
//
// Usage:
//
//	upgradeprobe -gateway 127.0.0.1:8080 -ws-origin 127.0.0.1:9002
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// options are the command's flags.
type options struct {
	gateway     string
	wsOrigin    string
	duration    time.Duration
	frameEvery  time.Duration
	uploadBytes int
	uploadRate  int
	quotaPath   string
	quotaEvery  time.Duration
	refill      float64
}

func main() {
	var o options
	flag.StringVar(&o.gateway, "gateway", "", "tollgate's client address")
	flag.StringVar(&o.wsOrigin, "ws-origin", "", "address to run the tunnel's echo origin on (the gateway routes /ws there)")
	flag.DurationVar(&o.duration, "duration", 5*time.Minute, "stop after this long at the latest")
	flag.DurationVar(&o.frameEvery, "frame-every", 100*time.Millisecond, "how often a frame goes through the tunnel")
	flag.IntVar(&o.uploadBytes, "upload-bytes", 4<<20, "bytes per upload")
	flag.IntVar(&o.uploadRate, "upload-rate", 1<<20, "upload pace, bytes per second")
	flag.StringVar(&o.quotaPath, "quota-path", "/quota/bytes/16", "path of the metered route the quota client requests")
	flag.DurationVar(&o.quotaEvery, "quota-every", 250*time.Millisecond, "how often the quota client sends")
	flag.Float64Var(&o.refill, "quota-refill", 1, "the quota's refill rate, tokens per second")
	flag.Parse()
	if o.gateway == "" || o.wsOrigin == "" {
		fmt.Fprintln(os.Stderr, "upgradeprobe: -gateway and -ws-origin are required")
		os.Exit(2)
	}
	if !run(o) {
		os.Exit(1)
	}
}

// run starts the probes, waits for the end and reports; false when any
// probe failed.
func run(o options) bool {
	ln, err := net.Listen("tcp", o.wsOrigin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "upgradeprobe:", err)
		return false
	}
	go serveEcho(ln)
	if err := awaitGateway(o.gateway); err != nil {
		fmt.Fprintln(os.Stderr, "upgradeprobe:", err)
		return false
	}
	stop := make(chan struct{})
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		select {
		case <-sigs:
		case <-time.After(o.duration):
		}
		close(stop)
	}()
	var wg sync.WaitGroup
	results := make([]func() (string, bool), 3)
	for i, probe := range []func(options, <-chan struct{}) func() (string, bool){tunnelProbe, uploadProbe, quotaProbe} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = probe(o, stop)
		}()
	}
	fmt.Println("probes running")
	wg.Wait()
	ok := true
	for _, r := range results {
		line, good := r()
		fmt.Println(line)
		ok = ok && good
	}
	return ok
}

// awaitGateway waits up to 10 s for the gateway to accept connections.
func awaitGateway(addr string) error {
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		var c net.Conn
		if c, err = net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return nil
		}
	}
	return fmt.Errorf("gateway %s: %w", addr, err)
}

// serveEcho answers every connection with a 101 and echoes its bytes.
func serveEcho(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			r := bufio.NewReader(c)
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if line == "\r\n" {
					break
				}
			}
			io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
			io.Copy(c, r)
		}()
	}
}

// tunnelProbe opens the tunnel and echoes a frame every frameEvery until
// stop; the first failure ends it.
func tunnelProbe(o options, stop <-chan struct{}) func() (string, bool) {
	c, r, err := openTunnel(o.gateway)
	if err != nil {
		return func() (string, bool) { return "websocket: could not open: " + err.Error(), false }
	}
	defer c.Close()
	t := time.NewTicker(o.frameEvery)
	defer t.Stop()
	echoed := 0
	for {
		select {
		case <-stop:
			return func() (string, bool) {
				return fmt.Sprintf("websocket: %d frames echoed, 0 failed; open from start to end, then closed by the probe", echoed), true
			}
		case <-t.C:
		}
		msg := "frame-" + strconv.Itoa(echoed) + "\n"
		c.SetDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, len(msg))
		_, err := io.WriteString(c, msg)
		if err == nil {
			_, err = io.ReadFull(r, buf)
		}
		if err == nil && string(buf) != msg {
			err = fmt.Errorf("echoed %q for %q", buf, msg)
		}
		if err != nil {
			<-stop
			return func() (string, bool) {
				return fmt.Sprintf("websocket: FAILED after %d frames: %v", echoed, err), false
			}
		}
		echoed++
	}
}

// openTunnel retries for up to 10 s (the gateway may still be starting).
func openTunnel(addr string) (net.Conn, *bufio.Reader, error) {
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		var c net.Conn
		if c, err = net.DialTimeout("tcp", addr, time.Second); err != nil {
			continue
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: probe\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: x\r\n\r\n")
		r := bufio.NewReader(c)
		var status string
		if status, err = r.ReadString('\n'); err == nil && strings.HasPrefix(status, "HTTP/1.1 101") {
			for line, _ := r.ReadString('\n'); line != "\r\n"; line, _ = r.ReadString('\n') {
				if line == "" {
					break
				}
			}
			return c, r, nil
		}
		if err == nil {
			err = fmt.Errorf("status %q", strings.TrimSpace(status))
		}
		c.Close()
	}
	return nil, nil, err
}

// uploadProbe uploads one body after another until stop.
func uploadProbe(o options, stop <-chan struct{}) func() (string, bool) {
	done, failed := 0, 0
	var first string
	client := &http.Client{Timeout: time.Minute}
	for {
		select {
		case <-stop:
			return func() (string, bool) {
				line := fmt.Sprintf("uploads: %d completed (%d bytes each at %d B/s), %d failed", done, o.uploadBytes, o.uploadRate, failed)
				if first != "" {
					line += "; first failure: " + first
				}
				return line, failed == 0 && done > 0
			}
		default:
		}
		if err := upload(client, o); err != nil {
			failed++
			if first == "" {
				first = err.Error()
			}
			continue
		}
		done++
	}
}

// upload sends one paced body and checks the origin's byte count.
func upload(client *http.Client, o options) error {
	pr, pw := io.Pipe()
	go func() {
		piece := make([]byte, max(1, o.uploadRate/20))
		for sent := 0; sent < o.uploadBytes; sent += len(piece) {
			n := min(len(piece), o.uploadBytes-sent)
			if _, err := pw.Write(piece[:n]); err != nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		pw.Close()
	}()
	req, _ := http.NewRequest("POST", "http://"+o.gateway+"/upload", pr)
	req.ContentLength = int64(o.uploadBytes)
	resp, err := client.Do(req)
	if err != nil {
		pr.CloseWithError(err)
		return err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	if resp.StatusCode != 200 || strings.TrimSpace(string(b)) != strconv.Itoa(o.uploadBytes) {
		return fmt.Errorf("status %d, body %q", resp.StatusCode, b)
	}
	return nil
}

// quotaProbe spends the quota until stop, watching for resets.
func quotaProbe(o options, stop <-chan struct{}) func() (string, bool) {
	var sent, failed, resets atomic.Int64
	first, last, prev := -1, -1, -1
	var prevAt time.Time
	client := &http.Client{Timeout: 10 * time.Second}
	t := time.NewTicker(o.quotaEvery)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return func() (string, bool) {
				return fmt.Sprintf("quota: %d requests, %d failed, X-RateLimit-Remaining %d -> %d, %d resets",
					sent.Load(), failed.Load(), first, last, resets.Load()), failed.Load() == 0 && resets.Load() == 0 && sent.Load() > 0
			}
		case <-t.C:
		}
		sent.Add(1)
		resp, err := client.Get("http://" + o.gateway + o.quotaPath)
		if err != nil {
			failed.Add(1)
			continue
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		rem, err := strconv.Atoi(resp.Header.Get("X-RateLimit-Remaining"))
		if resp.StatusCode != 200 || err != nil {
			failed.Add(1)
			continue
		}
		now := time.Now()
		if prev >= 0 && float64(rem) > float64(prev)+o.refill*now.Sub(prevAt).Seconds()+1 {
			resets.Add(1)
		}
		if first < 0 {
			first = rem
		}
		prev, prevAt, last = rem, now, rem
	}
}
