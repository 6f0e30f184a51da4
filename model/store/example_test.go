package store_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/stridemap/stridemap/model"
	"github.com/stridemap/stridemap/model/modeltest"
	"github.com/stridemap/stridemap/model/store"
)

// A scan is saved in one call and summarised without loading its graph.
func ExampleStore_SaveScan() {
	dir, err := os.MkdirTemp("", "stridemap-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	ctx := context.Background()
	s, err := store.Open(ctx, filepath.Join(dir, store.DefaultPath))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()

	id, err := s.SaveScan(ctx, modeltest.SampleScan(2))
	if err != nil {
		fmt.Println(err)
		return
	}
	info, err := s.Scan(ctx, id)
	if err != nil {
		fmt.Println(err)
		return
	}
	c := info.Counts
	fmt.Printf("scan %d: %d objects, %d nodes (%d processes, %d data stores), %d edges, %d exposed to the internet\n",
		info.ID, c.Objects, c.Nodes, c.NodesByType[model.Process], c.NodesByType[model.DataStore], c.Edges, c.Exposed)

	g, err := s.Graph(ctx, id)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("first edge:", g.Edges[0].ID)
	// Output:
	// scan 1: 120 objects, 42 nodes (34 processes, 4 data stores), 60 edges, 2 exposed to the internet
	// first edge: external:internet->gateway:shop/frontend:443
}
