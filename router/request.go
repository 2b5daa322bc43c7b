package router

// Request is the part of an HTTP request that routing looks at. The engine
// implements it over its parsed head; returned slices are only read during
// Match and never kept.
type Request interface {
	// Method returns the request method as received (e.g. "GET").
	Method() []byte
	// Host returns the Host header as received, possibly with a ":port"
	// suffix; nil or empty when absent.
	Host() []byte
	// Path returns the raw request path without the query, never decoded.
	Path() []byte
	// Header returns the first value of the named header, matching the name
	// case-insensitively, or nil when the header is absent.
	Header(name string) []byte
}
