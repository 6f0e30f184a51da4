package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// TestSizeFlag: a size is bytes or a number with an SI or IEC unit, in
// any case; anything else is refused, and the default prints in the
// largest unit that divides it.
func TestSizeFlag(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64 // 0: refused
	}{
		{"67108864", 64 << 20},
		{"400MB", 400e6},
		{"400 mb", 400e6},
		{"64MiB", 64 << 20},
		{"1.5GiB", 3 << 29},
		{"2k", 2000},
		{"10KiB", 10 << 10},
		{"1Gi", 1 << 30},
		{"512B", 512},
		{"", 0},
		{"MB", 0},
		{"0", 0},
		{"-1MB", 0},
		{"0.5", 0},
		{"12 parsecs", 0},
		{"1e9", 0},
		{"NaN", 0},
		{"Inf", 0},
		{"99999999999GB", 0},
		{"8EiB", 0},
		{"8589934592GiB", 0}, // 2^63 bytes: one over the largest
	} {
		var s sizeFlag
		err := s.Set(tc.in)
		switch {
		case tc.want == 0 && err == nil:
			t.Errorf("%q read as %d bytes, want it refused", tc.in, s)
		case tc.want != 0 && (err != nil || int64(s) != tc.want):
			t.Errorf("%q read as %d bytes (%v), want %d", tc.in, s, err, tc.want)
		}
	}
	for size, want := range map[sizeFlag]string{64 << 20: "64MiB", 3 << 29: "1536MiB", 1 << 30: "1GiB", 400e6: "400MB", 2048: "2KiB", 1000: "1kB", 400000001: "400000001"} {
		if got := size.String(); got != want {
			t.Errorf("%d prints as %s, want %s", int64(size), got, want)
		}
	}
}

// TestMaxFileSizeTakesUnits: --max-file-size reaches the reader with its
// unit: at 2KiB the demo's 5 KB file is skipped and named, the small one
// read; at 1MB both are read.
func TestMaxFileSizeTakesUnits(t *testing.T) {
	for _, tc := range []struct {
		size    string
		skipped bool
	}{{"2KiB", true}, {"1MB", false}} {
		var stdout, stderr bytes.Buffer
		db := filepath.Join(t.TempDir(), "s.db")
		code := run(context.Background(), []string{"--db", db, "scan", "--max-file-size", tc.size, "-f", "../../testdata/demo/frontend.yaml", "-f", "../../testdata/demo/ingress.yaml"}, nil, &stdout, &stderr)
		said := strings.Contains(stderr.String(), "frontend.yaml") && strings.Contains(stderr.String(), "larger than the 2048 bytes limit")
		if said != tc.skipped || (code != 0) != tc.skipped {
			t.Errorf("--max-file-size %s: exit %d, stderr:\n%s", tc.size, code, stderr.String())
		}
	}
}
