// Package common holds what every part of the TUI shares: the key map, the
// styles, the messages and the commands that load and save data, and the
// indexes built over a scan.
package common

import (
	"context"
	"time"

	"github.com/stridemap/stridemap/model/store"
)

// Common is the context the app hands to every page and component. Pages
// keep a pointer, so new styles (the terminal reports its colour profile
// after start) reach them at once.
type Common struct {
	Ctx    context.Context
	Store  *store.Store
	Styles Styles
	Keys   KeyMap
	User   string           // who signs triage decisions and answers
	Loc    *time.Location   // where times are shown
	Now    func() time.Time // when a decision is made
}

// Time formats t for the screen, in c.Loc.
func (c *Common) Time(t time.Time) string {
	return t.In(c.Loc).Format("2006-01-02 15:04 MST")
}
