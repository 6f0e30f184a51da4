package export

import (
	"encoding/json"
	"io"
)

// WriteReportJSON writes the report as indented JSON (docs/report-json.md).
// Names are written as they are, without HTML escaping: readers are tools.
func WriteReportJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}
