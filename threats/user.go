package threats

import (
	"os"
	"os/user"
)

// CurrentUser names who records a triage decision or an answer: by when it
// is not empty (a --by flag), else $STRIDEMAP_USER, else the login name,
// else "unknown". The CLI and the TUI both use it, so a decision made in
// either is signed the same way.
func CurrentUser(by string) string {
	if by != "" {
		return by
	}
	if u := os.Getenv("STRIDEMAP_USER"); u != "" {
		return u
	}
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return "unknown"
}
