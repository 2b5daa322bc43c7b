package main

import (
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	"tollgate/auth/httpsig"
)

// signUsage is printed for `tollgate sign -h` and on errors.
const signUsage = `usage: tollgate sign -keyid ID -alg ALG -key FILE [-d BODY | -body-file FILE] [-H 'Name: value']... METHOD URL

Prints the Signature-Input, Signature (and, with a body, Content-Digest)
header lines of an RFC 9421 signature of the request, one per line, for
curl -H. -key is the shared secret file (hmac-sha256) or the PEM private
key (ed25519, ecdsa-p256-sha256, rsa-pss-sha512).
`

// runSign is the `tollgate sign` subcommand.
func runSign(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("tollgate sign", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, signUsage); fs.PrintDefaults() }
	keyID := fs.String("keyid", "", "keyid configured in auth.signatures.keys")
	alg := fs.String("alg", httpsig.AlgHMACSHA256, strings.Join(httpsig.Algorithms(), " | "))
	keyFile := fs.String("key", "", "secret or private key file")
	data := fs.String("d", "", "request body")
	bodyFile := fs.String("body-file", "", "file holding the request body")
	components := fs.String("components", "@method @authority @path @query", "covered components, space-separated (content-digest is added with a body; header names add those -H headers)")
	expires := fs.Duration("expires", 0, "set expires this long after created (0: none)")
	var headers httpsig.Pairs
	fs.Var(&headers, "H", "a header of the request to cover (repeatable)")
	if err := fs.Parse(args); err != nil {
		return exitBadConfig
	}
	if fs.NArg() != 2 || *keyID == "" || *keyFile == "" {
		fs.Usage()
		return exitBadConfig
	}
	out, err := signRequest(fs.Arg(0), fs.Arg(1), *keyID, *alg, *keyFile, *data, *bodyFile, *components, *expires, headers)
	if err != nil {
		fmt.Fprintln(stderr, "tollgate sign:", err)
		return exitBadConfig
	}
	fmt.Fprint(stdout, out)
	return exitOK
}

// signRequest returns the header lines to add to the request.
func signRequest(method, rawURL, keyID, alg, keyFile, data, bodyFile, components string, expires time.Duration, headers httpsig.Pairs) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("invalid URL %q", rawURL)
	}
	key, err := httpsig.LoadSigningKey(alg, keyFile)
	if err != nil {
		return "", err
	}
	body := []byte(data)
	if bodyFile != "" {
		if body, err = os.ReadFile(bodyFile); err != nil {
			return "", err
		}
	}
	fields := headers
	var lines strings.Builder
	comps, err := httpsig.ParseComponents(components)
	if err != nil {
		return "", err
	}
	if len(body) > 0 {
		d := httpsig.Digest(body)
		fields = append(fields, [2]string{"Content-Digest", d})
		comps = append(comps, httpsig.Component{Name: "content-digest"})
		fmt.Fprintf(&lines, "Content-Digest: %s\n", d)
	}
	target := u.EscapedPath()
	if target == "" {
		target = "/"
	}
	if u.RawQuery != "" {
		target += "?" + u.RawQuery
	}
	m := &httpsig.Message{Method: []byte(strings.ToUpper(method)), Scheme: u.Scheme, Authority: []byte(u.Host),
		Target: []byte(target), Fields: fields}
	o := httpsig.SignOptions{KeyID: keyID, Components: comps, Created: time.Now()}
	if expires > 0 {
		o.Expires = o.Created.Add(expires)
	}
	input, sig, err := httpsig.Sign(m, key, o)
	if err != nil {
		return "", err
	}
	fmt.Fprintf(&lines, "Signature-Input: %s\nSignature: %s\n", input, sig)
	return lines.String(), nil
}
