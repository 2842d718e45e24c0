package cli

import (
	"bytes"
	"io"
)

// redactor masks secrets in everything written through it. It is a last line of defence: no code
// path is meant to print a token, and a test checks every command's output for it.
type redactor struct {
	w       io.Writer
	secrets [][]byte
}

// minSecretLen keeps very short values (a typo, "x") from mangling ordinary output.
const minSecretLen = 4

func newRedactor(w io.Writer, secrets []string) io.Writer {
	r := &redactor{w: w}
	for _, s := range secrets {
		if len(s) >= minSecretLen {
			r.secrets = append(r.secrets, []byte(s))
		}
	}
	if len(r.secrets) == 0 {
		return w
	}
	return r
}

var redacted = []byte("[redacted]")

// Write masks each secret within p. A secret split across two writes is not caught; every
// message of this command is written whole.
func (r *redactor) Write(p []byte) (int, error) {
	out := p
	for _, s := range r.secrets {
		if bytes.Contains(out, s) {
			out = bytes.ReplaceAll(out, s, redacted)
		}
	}
	if _, err := r.w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}
