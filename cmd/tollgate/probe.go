package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// probeTimeout bounds the whole -probe request.
const probeTimeout = 3 * time.Second

// runProbe is `tollgate -probe`: a container health check for images
// with no shell or curl (distroless). It asks /readyz on the admin
// listener of the config the same flags would run with and exits 0 when
// it answers 200, 1 otherwise, printing the answer or the error.
func runProbe(src *source, stdout, stderr io.Writer) int {
	cfg, err := src.load()
	if err != nil {
		fmt.Fprintln(stderr, "probe: loading the config:", err)
		return 1
	}
	if cfg.Admin.Listen == "" {
		fmt.Fprintln(stderr, "probe: the admin listener is disabled (admin.listen is empty)")
		return 1
	}
	url := "http://" + probeTarget(cfg.Admin.Listen) + "/readyz"
	client := &http.Client{Timeout: probeTimeout}
	resp, err := client.Get(url)
	if err != nil {
		fmt.Fprintln(stderr, "probe:", err)
		return 1
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	text := strings.TrimSpace(string(body))
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "probe: %s answered %d: %s\n", url, resp.StatusCode, text)
		return 1
	}
	fmt.Fprintln(stdout, text)
	return 0
}

// probeTarget turns a listen address into one to connect to: a listener
// on every interface (empty host, 0.0.0.0, ::) is reached on loopback.
func probeTarget(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return net.JoinHostPort(host, port)
}
