package main

import "net"

// net8080 checks that the quick start's fixed ports are free.
type net8080 struct{}

func (net8080) free() (bool, error) {
	for _, a := range []string{":8080", "127.0.0.1:9901"} {
		l, err := net.Listen("tcp", a)
		if err != nil {
			return false, err
		}
		l.Close()
	}
	return true, nil
}
