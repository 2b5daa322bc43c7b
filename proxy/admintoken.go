package proxy

import (
	"crypto/subtle"
	"net/http"
	"strings"
)

// guarded protects a mutating admin endpoint (POST /reload, POST
// /clients/{id}/reset) with the bearer token of admin.token_file or
// admin.token_env, as the running config has it. Without a token the
// endpoint is open, as before the option existed. A refusal is 401 with
// WWW-Authenticate and a warning in the log (no token text in either).
func (g *Gateway) guarded(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		want := g.engine.Current().Conf.Admin.Token
		if want == "" {
			h(w, r)
			return
		}
		got, ok := bearer(r.Header.Get("Authorization"))
		if ok && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1 {
			h(w, r)
			return
		}
		reason := "missing bearer token"
		if ok {
			reason = "wrong bearer token"
		}
		g.log.Warn("admin request refused", "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr, "reason", reason)
		w.Header().Set("WWW-Authenticate", `Bearer realm="tollgate-admin"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "unauthorized", "message": reason})
	}
}

// bearer returns the token of an "Authorization: Bearer <token>" value.
func bearer(h string) (string, bool) {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}
