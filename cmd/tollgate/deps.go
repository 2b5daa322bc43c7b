package main

import (
	_ "github.com/golang-jwt/jwt/v5"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/redis/go-redis/v9"
	_ "github.com/sony/gobreaker"
	_ "github.com/valyala/fasthttp"
	_ "golang.org/x/sync/singleflight"
	_ "golang.org/x/sys/unix"
	_ "gopkg.in/yaml.v3"
)

func main() {}
