package pipeline

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stridemap/stridemap/model/store"
)

// TestDiscardWaitsForTheStore: a scan that stores nothing closes the store
// it began to open before it returns, so nothing opens or writes the
// store's files afterwards (a test's cleanup removing them found them
// come back).
func TestDiscardWaitsForTheStore(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "stridemap.db")
	s, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	opening := storeOpening{path: path, result: make(chan openResult, 1)}
	go func() {
		time.Sleep(50 * time.Millisecond) // the opening takes a while
		opening.result <- openResult{s: s}
	}()
	opening.discard()
	if _, err := s.Scans(ctx); err == nil {
		t.Fatal("the store is still open after discard returned")
	}
}
