package sdk

import "strings"

// Query returns the first value of the query parameter name, decoded
// (percent escapes and '+' as space), and whether the query has it.
func Query(req Request, name string) (string, bool) {
	return QueryValue(req.RawQuery(), name)
}

// QueryValue finds name in an encoded query or url-encoded form body
// ("a=1&b=x%20y") and returns its first value, decoded. A pair with an
// invalid escape is skipped, as net/url does. It allocates only when the
// value has escapes to decode. Unlike net/url it takes ';' as part of a
// value (net/url refuses the pair) and has no bound on the number of
// pairs (net/url's default is 10,000).
//
// It splits with strings.IndexByte alone, and compares a pair's key in
// place: in a Go guest IndexByte is assembly, and each layer over it
// (strings.Cut, strings.Index) is a call that costs more than it does.
func QueryValue(query, name string) (string, bool) {
	for query != "" {
		pair := query
		if i := strings.IndexByte(query, '&'); i >= 0 {
			pair, query = query[:i], query[i+1:]
		} else {
			query = ""
		}
		if pair == "" {
			continue // "a=1&&b=2": net/url skips it too
		}
		var value string
		if len(pair) > len(name) && pair[len(name)] == '=' && pair[:len(name)] == name && literalKey(name) {
			value = pair[len(name)+1:]
		} else {
			key := pair
			if i := strings.IndexByte(pair, '='); i >= 0 {
				key, value = pair[:i], pair[i+1:]
			} else {
				value = ""
			}
			if key != name || !plainKey(key) {
				if k, ok := Unescape(key); !ok || k != name {
					continue
				}
			}
		}
		if v, ok := Unescape(value); ok {
			return v, true
		}
	}
	return "", false
}

// plainKey reports whether a key has nothing to decode, so that the raw
// key equals the decoded one.
func plainKey(k string) bool { return strings.IndexByte(k, '%') < 0 && strings.IndexByte(k, '+') < 0 }

// literalKey reports whether name, found literally at the start of a pair
// and followed by '=', is that pair's key: it has nothing to decode and no
// '=' of its own.
func literalKey(name string) bool { return plainKey(name) && strings.IndexByte(name, '=') < 0 }

// Unescape decodes a query component: %XX escapes and '+' as space. It
// reports false for a malformed escape, and allocates only when s has
// something to decode.
func Unescape(s string) (string, bool) {
	// Most values (a token, an id) have nothing to decode. IndexByte is
	// assembly on every port (a word at a time in WebAssembly), several
	// times faster there than the byte loop below, which a JWT in the query
	// made one of the edge chain's costliest guest functions.
	if strings.IndexByte(s, '%') < 0 && strings.IndexByte(s, '+') < 0 {
		return s, true
	}
	n := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '%':
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return "", false
			}
			n++
			i += 2
		case '+':
			n++
		}
	}
	if n == 0 {
		return s, true
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '%':
			b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
		case '+':
			b = append(b, ' ')
		default:
			b = append(b, c)
		}
	}
	return string(b), true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// Cookie returns the value of the request cookie name (unquoted), and
// whether the request has it. Every Cookie header is searched: HTTP/2
// clients may send one per cookie.
func Cookie(req Request, name string) (string, bool) {
	for _, h := range req.HeaderValues("Cookie") {
		if v, ok := CookieValue(h, name); ok {
			return v, true
		}
	}
	return "", false
}

// CookieValue finds name in one Cookie header value ("a=1; b=2").
func CookieValue(header, name string) (string, bool) {
	for header != "" {
		var part string
		part, header, _ = strings.Cut(header, ";")
		part = trimOWS(part)
		k, v, ok := strings.Cut(part, "=")
		if !ok || k != name {
			continue
		}
		if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			v = v[1 : len(v)-1]
		}
		return v, true
	}
	return "", false
}

// trimOWS trims spaces and tabs, the optional white space of HTTP; byte
// by byte, so the Rust plugin can match it exactly.
func trimOWS(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// ClientIP returns the IP of an "ip:port" source address ("[::1]:80" gives
// "::1"); an address without a port is returned as it is.
func ClientIP(addr string) string {
	if strings.HasPrefix(addr, "[") {
		if end := strings.IndexByte(addr, ']'); end > 0 {
			return addr[1:end]
		}
		return addr
	}
	// One colon: IPv4 or a host, with a port; a bare IPv6 has several.
	// (IndexByte twice, not LastIndexByte: in a Go guest only the former
	// is assembly.)
	if i := strings.IndexByte(addr, ':'); i >= 0 && strings.IndexByte(addr[i+1:], ':') < 0 {
		return addr[:i]
	}
	return addr
}

// HasPrefixFold reports whether s begins with prefix, ignoring ASCII case:
// for header values such as "Bearer " and media types.
func HasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}
