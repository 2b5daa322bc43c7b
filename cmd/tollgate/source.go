package main

import (
	_ "embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strings"

	"tollgate/conf"
)

//go:embed quickstart.yaml
var quickstartYAML string

// source is where the config comes from: a file, or the embedded quick
// start whose demo origin address is filled in when it starts.
type source struct {
	path     string
	demo     bool
	demoAddr string
}

// chooseSource applies CONTRACT.md section 1: -config, else
// ./tollgate.yaml, else the embedded quick start.
func chooseSource(flagPath string) (*source, error) {
	if flagPath != "" {
		return &source{path: flagPath}, nil
	}
	if _, err := os.Stat("tollgate.yaml"); err == nil {
		return &source{path: "tollgate.yaml"}, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("checking ./tollgate.yaml: %w", err)
	}
	return &source{demo: true, demoAddr: "127.0.0.1:0"}, nil
}

func (s *source) load() (*conf.Config, error) {
	if !s.demo {
		return conf.Load(s.path)
	}
	text := strings.ReplaceAll(quickstartYAML, "DEMO_ADDR", s.demoAddr)
	return conf.Parse("quickstart.yaml (embedded)", []byte(text), ".")
}

func (s *source) startDemo(log *slog.Logger) (func(), error) {
	addr, stop, err := startDemoOrigin(log)
	if err != nil {
		return nil, err
	}
	s.demoAddr = addr
	log.Info("no config file: running the embedded quick start", "demo_origin", addr, "try", "curl localhost:8080/demo/hello")
	return stop, nil
}
