// Package pages holds the TUI's pages: Overview, Map, Threats, Questions
// and Drift. A page owns its layout and keys; the app gives it its size,
// every data message, and the keys and mouse events while it is on screen.
package pages

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// Page is one screen of the app.
type Page interface {
	// Title is the page's name in the tab bar.
	Title() string
	// SetSize gives the page its area: the whole screen but the tab bar and
	// the status bar.
	SetSize(width, height int)
	// Update handles a message. Mouse positions are relative to the page.
	Update(msg tea.Msg) tea.Cmd
	// View renders the page, exactly its size.
	View() string
	// ShortHelp is the page's most used keys, for the status bar.
	ShortHelp() []key.Binding
	// Capturing reports whether a prompt is open, so every key, q
	// included, goes to the page.
	Capturing() bool
}
