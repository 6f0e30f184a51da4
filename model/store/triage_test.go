package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stridemap/stridemap/model/modeltest"
	"github.com/stridemap/stridemap/model/store"
)

func TestTriageHistoryAndCurrentState(t *testing.T) {
	s := modeltest.OpenStore(t)
	ctx := context.Background()
	t0 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	for i, d := range []store.Decision{
		{Subject: "a@x", Status: "accepted", Reason: "needed", Who: "alice", At: t0},
		{Subject: "b@y", Status: "false-positive", Reason: "test pod", Who: "bob", At: t0.Add(time.Minute)},
		{Subject: "a@x", Status: "open", Reason: "reopened after review", Who: "carol", At: t0.Add(time.Hour)},
	} {
		if err := s.AddTriage(ctx, d); err != nil {
			t.Fatalf("decision %d: %v", i, err)
		}
	}
	cur, err := s.Triage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(cur) != 2 || cur["a@x"].Status != "open" || cur["a@x"].Who != "carol" || cur["b@y"].Status != "false-positive" {
		t.Errorf("current = %+v", cur)
	}
	hist, err := s.TriageHistory(ctx, "a@x")
	if err != nil || len(hist) != 2 || hist[0].Status != "accepted" || !hist[0].At.Equal(t0) {
		t.Errorf("history = %+v, %v", hist, err)
	}
	if err := s.AddTriage(ctx, store.Decision{Subject: "c@z", Status: "maybe", Reason: "r", Who: "w"}); err == nil || !strings.Contains(err.Error(), "c@z") {
		t.Errorf("an unknown status should be refused by the schema: %v", err)
	}
}

func TestAnswersCarryAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s, err := store.Open(ctx, dir+"/s.db")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AddAnswer(ctx, store.Decision{Subject: "sast-in-ci", Status: "yes", Reason: "semgrep on every PR", Who: "alice"}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = store.Open(ctx, dir+"/s.db")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.Answers(ctx)
	if err != nil || got["sast-in-ci"].Status != "yes" || got["sast-in-ci"].Reason != "semgrep on every PR" {
		t.Errorf("answers = %+v, %v", got, err)
	}
}
