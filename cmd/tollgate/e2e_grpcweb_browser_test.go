package main

// A gRPC-Web call from a real browser page: headless Chromium (chromedp)
// loads a page that the test serves from another origin than the
// gateway's, and the page calls the grpc-go origin behind protocol: h2c
// through the gateway with fetch(), framing the protobuf message by hand
// — in text and in binary mode, and once on a route that refuses it. The
// browser's CORS checks (the preflight, the exposed grpc-status) are the
// real ones.

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/chromedp/chromedp"
)

// grpcWebPage calls UnaryCall three ways and shows, per call, the
// decoded reply, grpc-status, grpc-message, the origin's trailer
// x-unary-trailer and the answer's content-type in elements named <call>-<what>. GATEWAY is
// replaced by the gateway's URL.
const grpcWebPage = `<!doctype html>
<html><head><meta charset="utf-8"><title>gRPC-Web</title></head><body>
<table>
<tr><td>text</td><td id="text-status"></td><td id="text-message"></td><td id="text-reply"></td><td id="text-trailer"></td><td id="text-ctype"></td></tr>
<tr><td>binary</td><td id="binary-status"></td><td id="binary-message"></td><td id="binary-reply"></td><td id="binary-trailer"></td><td id="binary-ctype"></td></tr>
<tr><td>refused</td><td id="refused-status"></td><td id="refused-message"></td><td id="refused-reply"></td><td id="refused-trailer"></td><td id="refused-ctype"></td></tr>
</table>
<script>
const gateway = "GATEWAY";

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let i = 0;
  for (const p of parts) { out.set(p, i); i += p.length; }
  return out;
}
function varint(n) {
  const out = [];
  while (n > 0x7f) { out.push((n & 0x7f) | 0x80); n >>>= 7; }
  out.push(n);
  return new Uint8Array(out);
}
// grpc.testing.SimpleRequest{payload: Payload{body: text}}: field 3
// holds the Payload, whose field 2 holds the bytes.
function simpleRequest(text) {
  const body = new TextEncoder().encode(text);
  const payload = concat(new Uint8Array([0x12]), varint(body.length), body);
  return concat(new Uint8Array([0x1a]), varint(payload.length), payload);
}
// A gRPC-Web data frame: flag 0, big-endian length, the message.
function frame(msg) {
  const out = new Uint8Array(5 + msg.length);
  new DataView(out.buffer).setUint32(1, msg.length);
  out.set(msg, 5);
  return out;
}
function toBase64(bytes) {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}
// Padded pieces may follow one another: decode by groups of four.
function fromBase64(text) {
  const out = [];
  for (let i = 0; i < text.length; i += 4) {
    for (const c of atob(text.slice(i, i + 4))) out.push(c.charCodeAt(0));
  }
  return new Uint8Array(out);
}
function frames(bytes) {
  const msgs = [];
  let trailer = "";
  for (let i = 0; i + 5 <= bytes.length;) {
    const flag = bytes[i];
    const n = new DataView(bytes.buffer, bytes.byteOffset + i + 1, 4).getUint32(0);
    const p = bytes.slice(i + 5, i + 5 + n);
    i += 5 + n;
    if (flag === 0x80) trailer = new TextDecoder().decode(p); else msgs.push(p);
  }
  return {msgs, trailer};
}
// The bytes of field number want (length-delimited) in a message.
function field(msg, want) {
  for (let i = 0; i < msg.length;) {
    let key = 0, shift = 0, b;
    do { b = msg[i++]; key |= (b & 0x7f) << shift; shift += 7; } while (b & 0x80);
    let n = 0; shift = 0;
    do { b = msg[i++]; n |= (b & 0x7f) << shift; shift += 7; } while (b & 0x80);
    if ((key & 7) !== 2) return null; // SimpleResponse here holds only length-delimited fields
    if (key >> 3 === want) return msg.slice(i, i + n);
    i += n;
  }
  return null;
}
function trailerField(trailer, name) {
  for (const line of trailer.split("\r\n")) {
    const at = line.indexOf(": ");
    if (at > 0 && line.slice(0, at) === name) return line.slice(at + 2);
  }
  return null;
}
async function call(id, text, path, message) {
  const show = (what, v) => { document.getElementById(id + "-" + what).textContent = v ?? ""; };
  try {
    const req = frame(simpleRequest(message));
    const headers = {
      "content-type": text ? "application/grpc-web-text" : "application/grpc-web+proto",
      "accept": text ? "application/grpc-web-text" : "application/grpc-web",
      "x-grpc-web": "1",
      "x-user-agent": "grpc-web-javascript/0.1",
      "grpc-timeout": "10S",
    };
    const resp = await fetch(gateway + path, {method: "POST", headers, body: text ? toBase64(req) : req});
    const bytes = text ? fromBase64(await resp.text()) : new Uint8Array(await resp.arrayBuffer());
    const f = frames(bytes);
    const reply = f.msgs.length ? field(field(f.msgs[0], 1), 2) : null;
    show("reply", reply ? new TextDecoder().decode(reply) : "");
    show("message", resp.headers.get("grpc-message") ?? trailerField(f.trailer, "grpc-message"));
    show("trailer", trailerField(f.trailer, "x-unary-trailer"));
    show("ctype", resp.headers.get("content-type"));
    show("status", resp.headers.get("grpc-status") ?? trailerField(f.trailer, "grpc-status") ?? "none");
  } catch (e) {
    show("status", "error: " + e);
  }
}
call("text", true, "/grpc.testing.TestService/UnaryCall", "hello from the browser");
call("binary", false, "/grpc.testing.TestService/UnaryCall", "binary hello");
call("refused", true, "/grpc.testing.TestService/EmptyCall", "no key");
</script>
</body></html>`

// TestGRPCWebInChromium: the page's calls come back decoded, with their
// grpc-status: 0 and the origin's trailer (text and binary) from the
// trailer frame, 16 (UNAUTHENTICATED) from the gateway's own
// trailers-only head, which CORS lets the page read.
func TestGRPCWebInChromium(t *testing.T) {
	ctx := browser(t)
	var gatewayURL atomic.Value
	page := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(strings.Replace(grpcWebPage, "GATEWAY", gatewayURL.Load().(string), 1)))
	})
	pageOrigin := "http://" + page.addr
	g := startGateway(t, grpcWebConfig(startGRPCOrigin(t), pageOrigin, ""))
	gatewayURL.Store("http://" + g.addr)

	if err := chromedp.Do(ctx, chromedp.Navigate(pageOrigin+"/")); err != nil {
		t.Fatalf("loading the page: %v", err)
	}
	done := func(s string) bool { return s != "" }
	for _, tc := range []struct{ call, status, reply, ctype string }{
		{"text", "0", "hello from the browser", "application/grpc-web-text+proto"},
		{"binary", "0", "binary hello", "application/grpc-web+proto"},
		{"refused", "16", "", "application/grpc-web-text"},
	} {
		if s := waitPage(t, ctx, tc.call+" call's status", "#"+tc.call+"-status", done); s != tc.status {
			t.Errorf("%s call: grpc-status %q (message %q), want %s", tc.call, s, pageText(t, ctx, "#"+tc.call+"-message"), tc.status)
		}
		if s := pageText(t, ctx, "#"+tc.call+"-reply"); s != tc.reply {
			t.Errorf("%s call: reply %q, want %q", tc.call, s, tc.reply)
		}
		if s := pageText(t, ctx, "#"+tc.call+"-ctype"); s != tc.ctype {
			t.Errorf("%s call: content-type %q, want %q", tc.call, s, tc.ctype)
		}
	}
	for _, id := range []string{"#text-trailer", "#binary-trailer"} {
		if s := pageText(t, ctx, id); s != "after" {
			t.Errorf("%s: the origin's trailer x-unary-trailer reads %q in the trailer frame, want after", id, s)
		}
	}
	if s := pageText(t, ctx, "#refused-message"); s == "" {
		t.Error("the refusal's grpc-message is not readable by the page")
	}
	// The browser sent its preflights through the gateway (cors answers
	// them 204, before auth on the keyed route).
	for _, route := range []string{"grpcweb", "keyed"} {
		if v := g.metric(`tollgate_requests_total{code="204",protocol="http1",route="` + route + `"}`); v < 1 {
			t.Errorf("route %s: %v preflights answered, want at least 1", route, v)
		}
	}
}
