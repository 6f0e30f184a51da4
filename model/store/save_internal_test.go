package store

import (
	"strings"
	"testing"
)

// TestUniqueIDs: IDs in increasing order pass without a set of them; any
// repeat, next to its twin or far from it, sorted or not, is refused and
// named.
func TestUniqueIDs(t *testing.T) {
	for _, tc := range []struct {
		ids  []string
		dup  string
		desc string
	}{
		{nil, "", "none"},
		{[]string{"a"}, "", "one"},
		{[]string{"a", "b", "c"}, "", "increasing"},
		{[]string{"c", "a", "b"}, "", "unsorted"},
		{[]string{"a", "b", "b", "c"}, "b", "sorted, repeat beside its twin"},
		{[]string{"b", "a", "c", "a"}, "a", "unsorted, repeat apart"},
		{[]string{"a", "b", "c", "b"}, "b", "sorted until the repeat"},
	} {
		err := uniqueIDs("finding", len(tc.ids), func(i int) string { return tc.ids[i] })
		switch {
		case tc.dup == "" && err != nil:
			t.Errorf("%s: %v", tc.desc, err)
		case tc.dup != "" && (err == nil || !strings.Contains(err.Error(), `duplicate finding ID "`+tc.dup+`"`)):
			t.Errorf("%s: %v, want the duplicate %q named", tc.desc, err, tc.dup)
		}
	}
}
