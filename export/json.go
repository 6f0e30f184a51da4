package export

import (
	"encoding/json"
	"io"
	"time"

	"github.com/stridemap/stridemap/model"
)

// ScanRef identifies the scan a document was made from.
type ScanRef struct {
	ID         int64     `json:"id"`
	StartedAt  time.Time `json:"startedAt"`
	FinishedAt time.Time `json:"finishedAt"`
	Partial    bool      `json:"partial"`
}

// GraphDocument is the JSON form of a graph, documented in
// docs/graph-json.md. Its schemaVersion changes only when a field changes
// meaning or goes away.
type GraphDocument struct {
	SchemaVersion int      `json:"schemaVersion"`
	Scan          *ScanRef `json:"scan,omitempty"`
	*model.Graph
}

// WriteGraphJSON writes g as an indented GraphDocument.
func WriteGraphJSON(w io.Writer, g *model.Graph, scan *ScanRef) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(GraphDocument{SchemaVersion: model.SchemaVersion, Scan: scan, Graph: g})
}

// ReadGraphJSON reads a GraphDocument, refusing schema versions this build
// does not know.
func ReadGraphJSON(r io.Reader) (*GraphDocument, error) {
	doc := &GraphDocument{Graph: &model.Graph{}}
	if err := json.NewDecoder(r).Decode(doc); err != nil {
		return nil, err
	}
	if doc.SchemaVersion != model.SchemaVersion {
		return nil, &SchemaVersionError{Got: doc.SchemaVersion}
	}
	return doc, nil
}

// SchemaVersionError reports a graph document of another schema version.
type SchemaVersionError struct{ Got int }

func (e *SchemaVersionError) Error() string {
	return "graph document has schemaVersion " + itoa(e.Got) + ", this stridemap reads " + itoa(model.SchemaVersion)
}
