// Package demokit holds the small servers the examples in examples/ need
// around a gateway: an origin that says who it is and can be told to fail,
// and a token issuer that serves a JWKS and mints JWTs. examples/demokit
// runs them as processes for examples/demo.sh; the end-to-end tests of the
// examples (cmd/tollgate) run the same handlers on loopback ports.
//
// A request through an example passes the gateway first; what reaches an
// Origin is answered with a JSON description of what arrived (the origin's
// name, method, path, and the X-Client-Id and X-Request-Id the gateway
// set), so each example's comments can show what the upstream saw.
package demokit
