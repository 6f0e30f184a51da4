package threats_test

import (
	"testing"

	"github.com/stridemap/stridemap/threats"
)

func TestCurrentUser(t *testing.T) {
	t.Setenv("STRIDEMAP_USER", "alice")
	if got := threats.CurrentUser("bob"); got != "bob" {
		t.Errorf("an explicit name wins: got %q", got)
	}
	if got := threats.CurrentUser(""); got != "alice" {
		t.Errorf("$STRIDEMAP_USER comes next: got %q", got)
	}
	t.Setenv("STRIDEMAP_USER", "")
	if got := threats.CurrentUser(""); got == "" {
		t.Error("without a name or $STRIDEMAP_USER there is still a name (the login name or unknown)")
	}
}
