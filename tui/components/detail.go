package components

import (
	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/viewport"
	tea "charm.land/bubbletea/v2"

	"github.com/stridemap/stridemap/tui/common"
)

// Detail is a scrolling pane of text: a finding, an element, a question.
type Detail struct {
	c   *common.Common
	vp  viewport.Model
	key string // what is shown; SetContent keeps the scroll position while it stays the same
}

// NewDetail returns an empty pane.
func NewDetail(c *common.Common) *Detail {
	vp := viewport.New()
	vp.SoftWrap = true
	vp.FillHeight = true
	return &Detail{c: c, vp: vp}
}

// SetSize sets the pane's size.
func (d *Detail) SetSize(width, height int) {
	d.vp.SetWidth(max(width, 0))
	d.vp.SetHeight(max(height, 0))
}

// Width is the pane's width.
func (d *Detail) Width() int { return d.vp.Width() }

// SetContent shows text; key names what it is about, so showing the same
// thing again (after a triage, say) keeps the scroll position, and a new
// thing starts at the top.
func (d *Detail) SetContent(key, text string) {
	d.vp.SetContent(text)
	if key != d.key {
		d.vp.GotoTop()
		d.key = key
	}
}

// Update scrolls for the navigation keys and the mouse wheel.
func (d *Detail) Update(msg tea.Msg) {
	k := d.c.Keys
	switch msg := msg.(type) {
	case tea.KeyPressMsg:
		switch {
		case key.Matches(msg, k.Up):
			d.vp.ScrollUp(1)
		case key.Matches(msg, k.Down):
			d.vp.ScrollDown(1)
		case key.Matches(msg, k.PageUp):
			d.vp.PageUp()
		case key.Matches(msg, k.PageDown):
			d.vp.PageDown()
		case key.Matches(msg, k.Top):
			d.vp.GotoTop()
		case key.Matches(msg, k.Bottom):
			d.vp.GotoBottom()
		}
	case tea.MouseWheelMsg:
		d.vp, _ = d.vp.Update(msg)
	}
}

// YOffset is the first line on screen.
func (d *Detail) YOffset() int { return d.vp.YOffset() }

// EnsureVisible scrolls so line is on screen.
func (d *Detail) EnsureVisible(line int) { d.vp.EnsureVisible(line, 0, 0) }

// View renders the visible part.
func (d *Detail) View() string { return d.vp.View() }
