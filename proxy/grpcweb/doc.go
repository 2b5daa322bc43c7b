// Package grpcweb holds the codecs that translate gRPC-Web calls
// (https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-WEB.md), as
// browsers send them, to the gRPC their upstream speaks, and the answers
// back. It knows no sockets: the exchange (package proxy) calls it at
// three points of a call whose route points at an HTTP/2 upstream.
//
//  1. The request head: [Classify] tells a gRPC-Web call by its
//     content-type (application/grpc-web[+fmt] binary,
//     application/grpc-web-text[+fmt] base64), and
//     [AppendUpstreamContentType] gives the content-type the upstream
//     gets (application/grpc[+fmt]).
//  2. The request body: binary bodies go up as they are (the same
//     length-prefixed messages); a text body is base64-decoded as it
//     streams by a [Decoder], which takes the base64 in pieces cut
//     anywhere and accepts padding at the end of any 4-character group
//     (concatenated padded chunks).
//  3. The answer: [IsGRPCAnswer] says whether the upstream answered as a
//     gRPC server; then [AppendAnswerContentType] names the answer for the
//     browser, the body's messages pass as they come ([AppendEncode]
//     base64-encodes each piece, padded, for a text call, as the protocol
//     allows) and the upstream's trailers (grpc-status, grpc-message,
//     metadata) become the body's last frame, flag 0x80, lower-case
//     "name: value\r\n" lines ([AppendTrailerFrame]) — not HTTP trailers,
//     which a browser cannot read. A trailers-only answer (the status in
//     the head, no body) stays as it is: that is valid gRPC-Web.
//
// Nothing here allocates beyond the destination slices callers pass in.
package grpcweb
