package manifests

import (
	"encoding/binary"
	"reflect"
	"slices"
	"sync"

	corev1 "k8s.io/api/core/v1"
)

// SharedMaps hands the objects of one scan a single copy of each small
// string map and resource list they decode. Kubernetes objects repeat
// them: a Deployment's labels, its selector and its pod template's labels
// are usually one set, which its Service selects by again, and containers
// share requests and limits. Such maps were about a third of the memory of
// decoded objects. Collect makes its own; a caller of DecodeValue keeps one
// for a whole scan. It is safe for concurrent use.
//
// The maps of decoded objects are therefore shared: nothing may modify
// them (discover.Object says so).
type SharedMaps struct {
	mu        sync.Mutex
	strings   map[string]map[string]string
	resources map[string]corev1.ResourceList
}

const (
	// maxSharedEntries and maxSharedBytes bound the maps shared: labels
	// and selectors, not a ConfigMap's data, which is rarely repeated and
	// would only be copied into the key.
	maxSharedEntries = 16
	maxSharedBytes   = 1024
)

// NewSharedMaps returns an empty SharedMaps.
func NewSharedMaps() *SharedMaps {
	return &SharedMaps{strings: map[string]map[string]string{}, resources: map[string]corev1.ResourceList{}}
}

// mapKeys is a decoder's buffer for the key of a map.
type mapKeys struct {
	names []string
	key   []byte
}

// share replaces the map v holds with an equal one met before, or keeps it
// as the one later equal maps are replaced with.
func (s *SharedMaps) share(v reflect.Value, buf *mapKeys) {
	switch m := v.Interface().(type) {
	case map[string]string:
		if !buf.start(len(m)) {
			return
		}
		for k := range m {
			buf.names = append(buf.names, k)
		}
		slices.Sort(buf.names)
		for _, k := range buf.names {
			buf.add(k, m[k])
		}
		shareIn(&s.mu, s.strings, buf.key, m, v)
	case corev1.ResourceList:
		if !buf.start(len(m)) {
			return
		}
		for k := range m {
			buf.names = append(buf.names, string(k))
		}
		slices.Sort(buf.names)
		for _, k := range buf.names {
			q := m[corev1.ResourceName(k)]
			buf.add(k, q.String())
		}
		shareIn(&s.mu, s.resources, buf.key, m, v)
	}
}

// shareIn sets v to the map of table under key, or keeps m there; mu
// guards table.
func shareIn[M any](mu *sync.Mutex, table map[string]M, key []byte, m M, v reflect.Value) {
	if len(key) > maxSharedBytes {
		return
	}
	mu.Lock()
	defer mu.Unlock()
	if shared, ok := table[string(key)]; ok {
		v.Set(reflect.ValueOf(shared))
		return
	}
	table[string(key)] = m
}

// start empties the buffer for a map of n entries, reporting whether a map
// of that size is shared.
func (b *mapKeys) start(n int) bool {
	b.names, b.key = b.names[:0], b.key[:0]
	return n > 0 && n <= maxSharedEntries
}

// add appends one entry to the key, each string after its length, so
// that no two different maps have one key.
func (b *mapKeys) add(k, v string) {
	b.key = binary.AppendUvarint(b.key, uint64(len(k)))
	b.key = append(b.key, k...)
	b.key = binary.AppendUvarint(b.key, uint64(len(v)))
	b.key = append(b.key, v...)
}
