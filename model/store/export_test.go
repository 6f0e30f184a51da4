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
