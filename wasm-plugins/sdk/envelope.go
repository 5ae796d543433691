package sdk

import "strconv"

// Envelope returns the body of the app's error envelope,
// {"status_code":code,"status_msg":msg}: what a plugin that refuses a
// request writes (see ABI.md). Plugins build their envelopes once, at
// initialisation, and write them with Refuse.
func Envelope(code int, msg string) []byte {
	b := make([]byte, 0, 40+len(msg))
	b = append(b, `{"status_code":`...)
	b = strconv.AppendInt(b, int64(code), 10)
	b = append(b, `,"status_msg":`...)
	b = AppendJSONString(b, msg)
	return append(b, '}')
}

// AppendJSONString appends s to b as a JSON string, quoted and escaped.
func AppendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// Refuse answers the request with an envelope from Envelope: HTTP 200 and
// Content-Type: application/json, as the app expects every answer. Headers
// the refusal needs (Retry-After) are set before calling it.
func Refuse(resp Response, envelope []byte) {
	resp.SetHeader("Content-Type", "application/json")
	resp.SetStatusCode(200)
	resp.Write(envelope)
}
