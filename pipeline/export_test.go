package pipeline

import (
	"context"

	"github.com/stridemap/stridemap/model/store"
)

// ContentHashes returns the content hash of a scan's result as a re-scan
// computes it in memory, and as computed from what the store holds: the
// two must agree for a watch to confirm a plain scan.
func ContentHashes(ctx context.Context, res *Result) (inMemory, stored string, err error) {
	if inMemory, err = contentHash(res.Graph, verdictsOf(res.Findings), res.NotAssessed, res.Problems); err != nil {
		return "", "", err
	}
	s, err := store.OpenExisting(ctx, res.StorePath)
	if err != nil {
		return "", "", err
	}
	defer s.Close()
	stored, err = storedContentHash(ctx, s, res.Scan.ID)
	return inMemory, stored, err
}
