package store

// Test-only access to internals, for the external store_test package.

// SetSaveHook makes SaveScan call hook inside its transaction after each
// table is written, so tests can cancel or stall a save half-way.
func SetSaveHook(s *Store, hook func(table string)) { s.hook = hook }

// PoolSizes reports the maximum open connections of the writer and reader
// pools.
func PoolSizes(s *Store) (writer, readers int) {
	if s.w != nil {
		writer = s.w.Stats().MaxOpenConnections
	}
	return writer, s.r.Stats().MaxOpenConnections
}

// Migrations is the number of embedded migrations, the schema version a
// store is brought up to.
func Migrations() (int, error) {
	ms, err := migrations()
	return len(ms), err
}

// ApplicationID marks stridemap stores.
const ApplicationID = applicationID

// Tables are the tables holding a scan's rows, scans first.
var Tables = []string{"scans", "sources", "objects", "problems", "nodes", "edges", "boundaries", "controls", "dangling", "findings", "scan_rules", "gaps", "not_assessed"}

// ContentTables are the element tables whose rows live in table_content.
var ContentTables = contentTables

// WriterTempStore is the writer connection's PRAGMA temp_store: 2 when it
// keeps temporary data (statement journals) in memory.
func WriterTempStore(s *Store) (int, error) {
	var v int
	err := s.w.QueryRow("PRAGMA temp_store").Scan(&v)
	return v, err
}
