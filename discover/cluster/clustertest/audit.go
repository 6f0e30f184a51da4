package clustertest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// auditPolicy records every request with what it answered, so a test can
// check what a client asked for and what it was given.
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: RequestResponse
`

// AuditEvent is the part of an audit log entry tests look at.
type AuditEvent struct {
	Verb       string `json:"verb"`
	RequestURI string `json:"requestURI"`
	User       struct {
		Username string `json:"username"`
	} `json:"user"`
	ObjectRef *struct {
		Resource  string `json:"resource"`
		Namespace string `json:"namespace"`
		Name      string `json:"name"`
	} `json:"objectRef"`
	// ResponseObject is what the server answered, as it encoded it.
	ResponseObject json.RawMessage `json:"responseObject"`
}

func (s *Server) auditLog() string { return filepath.Join(s.dir, "audit.log") }

// Audit is every request the server has answered so far, as its audit log
// records them, responses included.
func (s *Server) Audit(t testing.TB) []AuditEvent {
	t.Helper()
	events, err := s.AuditEvents()
	if err != nil {
		t.Fatalf("clustertest: %v", err)
	}
	return events
}

// AuditEvents is Audit outside a test.
func (s *Server) AuditEvents() ([]AuditEvent, error) {
	f, err := os.Open(s.auditLog())
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var events []AuditEvent
	lines := bufio.NewScanner(f)
	lines.Buffer(nil, 64<<20)
	for lines.Scan() {
		var e AuditEvent
		if err := json.Unmarshal(lines.Bytes(), &e); err != nil {
			return nil, fmt.Errorf("audit log: %w", err)
		}
		events = append(events, e)
	}
	if err := lines.Err(); err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	return events, nil
}
