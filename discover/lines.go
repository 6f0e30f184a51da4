package discover

import (
	"hash/fnv"
	"sort"
)

// LineIndex maps field paths of one object to the lines they start on. It
// stores hashes of the paths rather than the paths themselves, because an
// inventory of many thousands of objects would otherwise hold millions of
// path strings only to report a handful of them as evidence.
type LineIndex struct {
	keys  []uint64
	lines []int32
}

// LineIndexBuilder collects path/line pairs for one object.
type LineIndexBuilder struct {
	entries []lineEntry
}

type lineEntry struct {
	key  uint64
	line int32
}

// Add records that path starts on line.
func (b *LineIndexBuilder) Add(path string, line int) {
	b.entries = append(b.entries, lineEntry{key: hashPath(path), line: int32(line)})
}

// Build returns the finished index; the builder may be reused afterwards.
func (b *LineIndexBuilder) Build() LineIndex {
	sort.SliceStable(b.entries, func(i, j int) bool { return b.entries[i].key < b.entries[j].key })
	idx := LineIndex{keys: make([]uint64, 0, len(b.entries)), lines: make([]int32, 0, len(b.entries))}
	for i, e := range b.entries {
		if i > 0 && e.key == b.entries[i-1].key {
			continue // keep the first occurrence of a path
		}
		idx.keys = append(idx.keys, e.key)
		idx.lines = append(idx.lines, e.line)
	}
	b.entries = b.entries[:0]
	return idx
}

// Lookup returns the line of path, if it was indexed.
func (idx LineIndex) Lookup(path string) (int, bool) {
	k := hashPath(path)
	i := sort.Search(len(idx.keys), func(i int) bool { return idx.keys[i] >= k })
	if i < len(idx.keys) && idx.keys[i] == k {
		return int(idx.lines[i]), true
	}
	return 0, false
}

// Len is the number of indexed paths.
func (idx LineIndex) Len() int { return len(idx.keys) }

func hashPath(path string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(path))
	return h.Sum64()
}
