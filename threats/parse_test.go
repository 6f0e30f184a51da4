package threats_test

import (
	"strings"
	"testing"

	"github.com/stridemap/stridemap/threats"
)

// TestParseAnyCase: severities and statuses are accepted in any case, from
// flags and from triage files, and read back in the stored form.
func TestParseAnyCase(t *testing.T) {
	for in, want := range map[string]threats.Severity{"high": threats.High, "High": threats.High, "CRITICAL": threats.Critical} {
		if got, err := threats.ParseSeverity(in); err != nil || got != want {
			t.Errorf("ParseSeverity(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := threats.ParseSeverity("severe"); err == nil {
		t.Error("ParseSeverity(severe) should fail")
	}
	if got, err := threats.ParseStatus("False-Positive"); err != nil || got != threats.FalsePositive {
		t.Errorf("ParseStatus(False-Positive) = %q, %v", got, err)
	}
	entries, err := threats.ReadTriageFile(strings.NewReader("version: 1\ndecisions:\n  - finding: r@x\n    status: Accepted\n    reason: why\n"), "triage.yaml")
	if err != nil || len(entries) != 1 || entries[0].Status != threats.Accepted {
		t.Errorf("a triage file's status Accepted should read back as %q: %+v, %v", threats.Accepted, entries, err)
	}
}
