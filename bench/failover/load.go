package main

import (
	"io"
	"net/http"
	"sync"
	"time"
)

// record is one client request's result.
type record struct {
	at      time.Time     // when it was sent
	latency time.Duration // until the body was read
	status  int           // 0 = transport error
	origin  string        // X-Origin of the answer, "" if the gateway answered itself
}

// load sends GETs at a fixed rate from a pool of workers: a ticker offers
// one request per tick, and a tick that finds every worker busy is
// dropped (counted), so a slow gateway is not hidden by a growing queue.
type load struct {
	url     string
	client  *http.Client
	ticks   chan struct{}
	quit    chan struct{}
	wg      sync.WaitGroup
	mu      sync.Mutex
	records []record
	dropped int
}

// startLoad starts rate requests per second with workers workers.
func startLoad(addr string, rate, workers int) *load {
	l := &load{
		url: "http://" + addr + "/work",
		client: &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
			MaxIdleConnsPerHost: workers, MaxConnsPerHost: workers,
		}},
		ticks: make(chan struct{}),
		quit:  make(chan struct{}),
	}
	for range workers {
		l.wg.Add(1)
		go l.worker()
	}
	l.wg.Add(1)
	go l.tick(rate)
	return l
}

func (l *load) tick(rate int) {
	defer l.wg.Done()
	t := time.NewTicker(time.Second / time.Duration(max(rate, 1)))
	defer t.Stop()
	for {
		select {
		case <-l.quit:
			return
		case <-t.C:
		}
		select {
		case l.ticks <- struct{}{}:
		default:
			l.mu.Lock()
			l.dropped++
			l.mu.Unlock()
		}
	}
}

func (l *load) worker() {
	defer l.wg.Done()
	for {
		select {
		case <-l.quit:
			return
		case <-l.ticks:
			r := l.one()
			l.mu.Lock()
			l.records = append(l.records, r)
			l.mu.Unlock()
		}
	}
}

// one sends a single GET.
func (l *load) one() record {
	r := record{at: time.Now()}
	resp, err := l.client.Get(l.url)
	if err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		r.status, r.origin = resp.StatusCode, resp.Header.Get("X-Origin")
	}
	r.latency = time.Since(r.at)
	return r
}

// stop ends the load, waits for requests in flight and returns every
// record.
func (l *load) stop() []record {
	close(l.quit)
	l.wg.Wait()
	l.client.CloseIdleConnections()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.records
}
