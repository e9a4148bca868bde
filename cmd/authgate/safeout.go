package main

import (
	"fmt"
	"io"
	"unicode/utf8"
)

// safeWriter escapes what a terminal would obey rather than show: control
// characters other than newline and tab, DEL, the C1 controls and bytes
// that are not UTF-8. Everything the command prints goes through it, as
// claims, key members, headers and error texts come from the token or the
// issuer.
type safeWriter struct{ w io.Writer }

func (s safeWriter) Write(p []byte) (int, error) {
	out := make([]byte, 0, len(p))
	for i := 0; i < len(p); {
		r, size := utf8.DecodeRune(p[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			out = fmt.Appendf(out, `\x%02x`, p[i])
		case r < 0x20 && r != '\n' && r != '\t', r == 0x7f, r >= 0x80 && r <= 0x9f:
			out = fmt.Appendf(out, `\u%04x`, r)
		default:
			out = append(out, p[i:i+size]...)
		}
		i += size
	}
	if _, err := s.w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}
