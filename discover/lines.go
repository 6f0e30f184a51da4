package discover

import (
	"cmp"
	"slices"
	"sort"
	"strconv"
	"strings"
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
	b.AddHashed(RootPath.ExtendString(path), line)
}

// AddHashed is Add for a path a walk has hashed as it went down
// (PathHash), so each field costs the hash of its own segment, not of its
// whole path again: hashing whole paths was 5-8% of reading manifests.
func (b *LineIndexBuilder) AddHashed(path PathHash, line int) {
	b.entries = append(b.entries, lineEntry{key: uint64(path), line: int32(line)})
}

// Reset drops the paths collected so far, for an object that is abandoned
// half-way.
func (b *LineIndexBuilder) Reset() { b.entries = b.entries[:0] }

// Build returns the finished index; the builder may be reused afterwards.
func (b *LineIndexBuilder) Build() LineIndex {
	slices.SortStableFunc(b.entries, func(x, y lineEntry) int { return cmp.Compare(x.key, y.key) })
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

// PathKey extends a field path by a mapping key: "metadata" and "name" give
// "metadata.name". A key that is empty or holds '.', '[' or ']' is written in
// brackets, as in "metadata.annotations[example.com/x]", so the path stays
// unambiguous.
func PathKey(parent, key string) string {
	if key == "" || strings.ContainsAny(key, ".[]") {
		return parent + "[" + key + "]"
	}
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// PathIndex extends a field path by a sequence index, as in "containers[2]".
func PathIndex(parent string, i int) string {
	return parent + "[" + strconv.Itoa(i) + "]"
}

// PathHash is the hash of a field path, FNV-1a written out so that hashing
// allocates nothing. A walk through a document extends its parent's hash
// by each segment it appends ("spec", then ".containers", then "[0]") and
// gets the hash of the whole path: the hash of a path is the hash of its
// segments in turn.
type PathHash uint64

// RootPath is the hash of the empty path.
const RootPath PathHash = fnvOffset64

const (
	fnvOffset64 = 14695981039346656037
	fnvPrime64  = 1099511628211
)

// Extend returns the hash of the path h stands for followed by segment.
func (h PathHash) Extend(segment []byte) PathHash { return extend(h, segment) }

// ExtendString is Extend for a segment held in a string.
func (h PathHash) ExtendString(segment string) PathHash { return extend(h, segment) }

func extend[S string | []byte](h PathHash, segment S) PathHash {
	for i := 0; i < len(segment); i++ {
		h ^= PathHash(segment[i])
		h *= fnvPrime64
	}
	return h
}

func hashPath(path string) uint64 { return uint64(RootPath.ExtendString(path)) }
