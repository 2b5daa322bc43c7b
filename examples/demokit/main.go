// Command demokit runs the servers the examples need next to tollgate
// (package tollgate/internal/demokit):
//
//	demokit origin -listen 127.0.0.1:9001 -name orders
//	demokit issuer -listen 127.0.0.1:9100
//
// examples/demo.sh starts them; each runs until SIGINT or SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"tollgate/internal/demokit"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "demokit:", err)
		os.Exit(1)
	}
}

// run parses the subcommand and serves until a signal.
func run(args []string) error {
	if len(args) == 0 {
		return errors.New("usage: demokit origin -listen ADDR -name NAME | demokit issuer -listen ADDR")
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:9001", "address to serve on")
	name := fs.String("name", "origin", "origin name shown in its answers")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	var h http.Handler
	switch args[0] {
	case "origin":
		h = demokit.NewOrigin(*name)
	case "issuer":
		is, err := demokit.NewIssuer()
		if err != nil {
			return err
		}
		h = is
	default:
		return fmt.Errorf("unknown subcommand %q (want origin or issuer)", args[0])
	}
	return serve(*listen, h)
}

// serve runs h on addr until SIGINT or SIGTERM.
func serve(addr string, h http.Handler) error {
	srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 5 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve %s: %w", addr, err)
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return srv.Shutdown(shut)
}
