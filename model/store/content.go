package store

import (
	"crypto/sha256"
	"database/sql/driver"
	"encoding/binary"
	"fmt"
	"reflect"
	"sync"

	"modernc.org/sqlite"
)

// contentKeySize is how many bytes of SHA-256 key a content row: 128 bits
// keep an accidental collision out of reach for any number of scans, at
// half the size of the whole digest in the table and its index.
const contentKeySize = 16

// contentKey hashes the column values of one element row, each tagged with
// its type and length so that ("ab", "c") and ("a", "bc") differ. Integers
// and booleans hash as SQLite stores them (an INTEGER), so the key SaveScan
// computes in Go equals the one migration 0006 computes in SQL over the
// stored row.
func contentKey(h *contentHasher, vals []any) ([]byte, error) {
	h.buf = h.buf[:0]
	for _, v := range vals {
		rv := reflect.ValueOf(v)
		switch rv.Kind() {
		case reflect.String:
			h.buf = append(h.buf, 's')
			h.buf = binary.AppendUvarint(h.buf, uint64(rv.Len()))
			h.buf = append(h.buf, rv.String()...)
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			h.buf = binary.BigEndian.AppendUint64(append(h.buf, 'i'), uint64(rv.Int()))
		case reflect.Uint8, reflect.Uint16, reflect.Uint32:
			h.buf = binary.BigEndian.AppendUint64(append(h.buf, 'i'), rv.Uint())
		case reflect.Bool:
			var b uint64
			if rv.Bool() {
				b = 1
			}
			h.buf = binary.BigEndian.AppendUint64(append(h.buf, 'i'), b)
		default:
			return nil, fmt.Errorf("content key: column value of type %T", v)
		}
	}
	sum := sha256.Sum256(h.buf)
	return sum[:contentKeySize], nil
}

// contentHasher reuses one buffer across the rows of a save.
type contentHasher struct{ buf []byte }

var registerContentKey sync.Once

// registerContentKeyFunc makes stridemap_content_key available to every
// connection opened afterwards: migration 0006 needs it to move existing
// rows. The driver's registry is global, hence once per process.
func registerContentKeyFunc() {
	registerContentKey.Do(func() {
		sqlite.MustRegisterDeterministicScalarFunction("stridemap_content_key", -1,
			func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
				vals := make([]any, len(args))
				for i, a := range args {
					if b, ok := a.([]byte); ok { // TEXT may arrive as bytes
						a = string(b)
					}
					vals[i] = a
				}
				return contentKey(&contentHasher{}, vals)
			})
	})
}
