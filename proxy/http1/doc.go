// Package http1 is tollgate's HTTP/1.1 codec: message heads in, checked
// and parsed; heads and chunks out. It opens no socket and knows no route
// or gateway policy: it reads from a *bufio.Reader, writes to a
// *bufio.Writer or appends to a []byte, so an event loop can run it over
// bytes already buffered and a worker goroutine over a blocking
// connection alike.
//
// One request through it, as package proxy drives it:
//
//  1. Head read. [Request.ReadHead] reads the head, through its blank
//     line, from the client's reader into the Request's own buffer,
//     skipping empty lines before it (RFC 9112 section 2.2) and refusing
//     a head longer than the caller's limit with [ErrHeadTooLarge].
//  2. Parsed and checked. [Request.Parse] splits the head into the
//     request line and the fields, a [Header] of offsets into that buffer
//     (nothing is copied), and refuses anything it could read two ways:
//     bare LF ([ErrBareLF]), obsolete line folding ([ErrObsFold]),
//     versions other than HTTP/1.0 and HTTP/1.1 ([ErrBadVersion]), field
//     names that are not tokens or have whitespace before the colon,
//     control bytes in values, targets not in origin form, dot segments
//     (also percent-encoded), a repeated Host, or none on HTTP/1.1.
//     [Request.SpeaksHTTP] tells a refused head that is HTTP from bytes
//     of another protocol, whose peer could not read an answer.
//  3. Framing known. Parse then decides how the body is delimited, and
//     refuses the ambiguous framings request smuggling relies on:
//     Content-Length with Transfer-Encoding, Content-Length values that
//     differ or are not plain decimals, any transfer coding but a single
//     chunked, and Transfer-Encoding on HTTP/1.0. What is left is one answer, in
//     [Request.ContentLen] and [Request.Chunked], with
//     [Request.KeepAlive], [Request.Expect100] and [Request.Upgrade]. The
//     gateway forwards the fields that are not hop-by-hop ([IsHopByHop])
//     and ends the head with framing of its own ([Request.AppendFraming]):
//     the upstream never sees the client's framing fields.
//  4. Body decoded. A Content-Length body is just bytes. A chunked body
//     is decoded strictly (hex sizes without overflow, CRLF after every
//     chunk, trailer fields checked like header fields and bounded;
//     [ErrBadChunk] otherwise) by a [ChunkedReader] over a blocking
//     reader, or by a [ChunkScanner] over whatever bytes are at hand, and
//     framed again with [WriteChunk] or [AppendChunk]. Both keep the
//     trailer fields a trailer may carry (framing, Host and hop-by-hop
//     fields are left out), for [WriteLastChunk] to end the body with
//     them; [WriteTrailerNames] announces them in the head.
//  5. Response head parsed. [Response.ReadHead] and [Response.Parse] do
//     the same for the upstream's answer; any malformed response head is
//     [ErrBadResponse]. [Response.Status], [Response.ContentLen],
//     [Response.Chunked] and [Response.CloseAfter] say how its body is
//     delimited, and [Response.Bodyless] when there is none.
//  6. Written back. [WriteStatusLine], [WriteFields] (which leaves out
//     hop-by-hop fields and Content-Length), [WriteField] and
//     [WriteConnection] write the head to the client, and the body follows
//     as it came or framed again as chunks.
//
// Nothing here allocates once a connection's buffers have grown: a
// Request or Response owns one byte buffer that holds the head as read
// plus the bytes of any field edit, its Header is a slice of offsets into
// it, and both are reused from one message to the next. Slices returned by
// accessors (Method, Target, Header.Get…) point into that buffer and are
// valid until the next ReadHead.
package http1
