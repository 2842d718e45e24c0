// Package invalid holds the one sentinel error for invalid input, shared by the librato package
// (as librato.ErrInvalid) and its composite package, whose errors match it too.
package invalid

import "errors"

// Err is librato.ErrInvalid.
var Err = errors.New("librato: invalid input")
