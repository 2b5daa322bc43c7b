package router

// Rewrite appends to dst the request-target to send upstream: target (a
// path with an optional "?query") with stripPrefix removed from the front
// of the path when the path starts with it. The path is compared and copied
// raw, never decoded, and the query is kept as received. The resulting path
// always starts with "/": stripping "/v1" from "/v1/users" gives "/users",
// from "/v1" gives "/", and from "/v1x" gives "/x". Rewrite does not
// allocate when dst has room for the result.
func Rewrite(dst, target []byte, stripPrefix string) []byte {
	path, query := splitTarget(target)
	if stripPrefix != "" && len(path) >= len(stripPrefix) && string(path[:len(stripPrefix)]) == stripPrefix {
		path = path[len(stripPrefix):]
	}
	if len(path) == 0 || path[0] != '/' {
		dst = append(dst, '/')
	}
	dst = append(dst, path...)
	return append(dst, query...)
}

// splitTarget splits a request-target into its path and its query,
// including the "?" (empty when there is none).
func splitTarget(target []byte) (path, query []byte) {
	for i, c := range target {
		if c == '?' {
			return target[:i], target[i:]
		}
	}
	return target, nil
}
