package plugins

import (
	"fmt"
	"sort"

	"tollgate/conf"
)

// headerEdits is the headers plugin: fixed header removals and sets on the
// request sent upstream and on the response sent to the client.
type headerEdits struct {
	request  headerEditList
	response headerEditList
}

// headerEditList is one direction's edits: removals first, then sets.
type headerEditList struct {
	remove []string
	set    [][2]string // sorted by name, so the outcome never depends on map order
}

// NewHeaders returns the headers filter. Request edits apply to
// Exchange.Request before the upstream is called, response edits to
// Exchange.Response (the upstream's head or the gateway's own reply). In
// each direction the listed headers are removed first and then the set
// ones replace every existing value, so a name in both lists ends up set.
// A nil cfg edits nothing.
func NewHeaders(cfg *conf.HeadersPlugin) (Filter, error) {
	if cfg == nil {
		return &headerEdits{}, nil
	}
	req, err := newHeaderEditList(cfg.RequestRemove, cfg.RequestSet)
	if err != nil {
		return nil, fmt.Errorf("request: %w", err)
	}
	resp, err := newHeaderEditList(cfg.ResponseRemove, cfg.ResponseSet)
	if err != nil {
		return nil, fmt.Errorf("response: %w", err)
	}
	return &headerEdits{request: req, response: resp}, nil
}

// newHeaderEditList checks and orders one direction's edits.
func newHeaderEditList(remove []string, set map[string]string) (headerEditList, error) {
	l := headerEditList{remove: append([]string(nil), remove...)}
	for _, name := range remove {
		if err := checkHeaderName(name); err != nil {
			return headerEditList{}, err
		}
	}
	for name, value := range set {
		if err := checkHeaderName(name); err != nil {
			return headerEditList{}, err
		}
		if err := checkHeaderValue(name, value); err != nil {
			return headerEditList{}, err
		}
		l.set = append(l.set, [2]string{name, value})
	}
	sort.Slice(l.set, func(i, j int) bool { return l.set[i][0] < l.set[j][0] })
	return l, nil
}

// apply edits h.
func (l *headerEditList) apply(h Headers) {
	if h == nil {
		return
	}
	for _, name := range l.remove {
		h.Del(name)
	}
	for _, kv := range l.set {
		h.Set(kv[0], kv[1])
	}
}

// Request edits the request head.
func (f *headerEdits) Request(x *Exchange) *Reply {
	f.request.apply(x.Request)
	return nil
}

// Response edits the response head.
func (f *headerEdits) Response(x *Exchange) {
	f.response.apply(x.Response)
}
