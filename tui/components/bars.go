package components

import (
	"strings"

	"charm.land/lipgloss/v2"

	"github.com/stridemap/stridemap/tui/common"
)

// Tabs is the page bar at the top of the screen.
type Tabs struct {
	c      *common.Common
	titles []string
	starts []int // the column each tab starts at, for clicks
}

// NewTabs returns a tab bar with these titles, numbered from 1.
func NewTabs(c *common.Common, titles ...string) *Tabs {
	return &Tabs{c: c, titles: titles}
}

// View renders the bar, width cells wide, with active highlighted and
// right shown at the right end. When the tabs and right do not fit, the
// tabs lose the spaces around their labels first.
func (t *Tabs) View(active, width int, right string) string {
	left := t.render(active, false)
	gap := width - lipgloss.Width(left) - lipgloss.Width(right) - 1
	if gap < 1 {
		left = t.render(active, true)
		gap = width - lipgloss.Width(left) - lipgloss.Width(right) - 1
	}
	if gap < 1 {
		return Fit(left, width)
	}
	return left + strings.Repeat(" ", gap) + t.c.Styles.ScanLabel.Render(right) + " "
}

// render draws the brand and the tabs, and records where each starts.
func (t *Tabs) render(active int, compact bool) string {
	st := t.c.Styles
	var b strings.Builder
	brand := st.Brand.Render(" stridemap ")
	b.WriteString(brand)
	col := lipgloss.Width(brand)
	t.starts = t.starts[:0]
	for i, title := range t.titles {
		label := string(rune('1'+i)) + " " + title
		style := st.Tab
		switch {
		case i == active:
			label = "[" + label + "]"
			style = st.ActiveTab
		case !compact:
			label = " " + label + " "
		}
		tab := style.Render(label)
		t.starts = append(t.starts, col)
		col += lipgloss.Width(tab)
		b.WriteString(tab)
	}
	return b.String()
}

// At returns the tab at column x, or -1.
func (t *Tabs) At(x int) int {
	for i := len(t.starts) - 1; i >= 0; i-- {
		if x >= t.starts[i] {
			return i
		}
	}
	return -1
}

// StatusBar renders the bottom line: a message on the left, key help on
// the right.
func StatusBar(c *common.Common, width int, message string, isErr bool, help string) string {
	st := c.Styles
	msgStyle := st.StatusText
	if isErr {
		msgStyle = st.StatusErr
	}
	msg := " " + message + " "
	hw := lipgloss.Width(help)
	room := width - hw - 1
	if room < 10 {
		help, hw, room = "", 0, width
	}
	left := msgStyle.Render(Fit(msg, room))
	if help == "" {
		return left
	}
	return left + st.StatusBar.Render(" ") + help + st.StatusBar.Render(strings.Repeat(" ", max(width-room-1-hw, 0)))
}
