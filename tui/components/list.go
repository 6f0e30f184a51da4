package components

import (
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/stridemap/stridemap/tui/common"
)

// RowFunc renders row i of a list, exactly width cells wide, on one line.
type RowFunc func(i int, selected bool, width int) string

// List is a virtualised list: it holds only a row count and a cursor, and
// asks its RowFunc for the rows on screen, so a list of a hundred thousand
// rows costs no more to draw than a list of twenty.
type List struct {
	c             *common.Common
	render        RowFunc
	skip          func(i int) bool // rows the cursor steps over (headings); may be nil
	count         int
	cursor        int
	offset        int
	width, height int
}

// NewList returns an empty list that draws rows with render.
func NewList(c *common.Common, render RowFunc) *List {
	return &List{c: c, render: render}
}

// SetSkip makes the cursor step over rows for which skip is true.
func (l *List) SetSkip(skip func(i int) bool) { l.skip = skip }

// SetCount sets the number of rows, keeping the cursor on a row.
func (l *List) SetCount(n int) {
	l.count = n
	l.Select(l.cursor)
}

// Count is the number of rows.
func (l *List) Count() int { return l.count }

// SetSize sets the list's size in cells.
func (l *List) SetSize(width, height int) {
	l.width, l.height = width, max(height, 0)
	l.scrollTo(l.cursor)
}

// Width is the list's width in cells.
func (l *List) Width() int { return l.width }

// Height is the number of rows on screen.
func (l *List) Height() int { return l.height }

// Cursor is the selected row, or -1 when the list is empty.
func (l *List) Cursor() int {
	if l.count == 0 {
		return -1
	}
	return l.cursor
}

// Offset is the first row on screen.
func (l *List) Offset() int { return l.offset }

// Select moves the cursor to row i (clamped, and off a skipped row).
func (l *List) Select(i int) {
	l.move(i, 1)
}

// move puts the cursor on row i, stepping in direction dir past skipped
// rows, and back the other way at the end of the list.
func (l *List) move(i, dir int) {
	if l.count == 0 {
		l.cursor, l.offset = 0, 0
		return
	}
	i = min(max(i, 0), l.count-1)
	if l.skip != nil {
		j := i
		for j >= 0 && j < l.count && l.skip(j) {
			j += dir
		}
		if j < 0 || j >= l.count {
			for j = i; j >= 0 && j < l.count && l.skip(j); j -= dir {
			}
		}
		if j >= 0 && j < l.count {
			i = j
		}
	}
	l.cursor = i
	l.scrollTo(i)
}

func (l *List) scrollTo(i int) {
	if l.height <= 0 {
		return
	}
	if i < l.offset {
		l.offset = i
	}
	if i >= l.offset+l.height {
		l.offset = i - l.height + 1
	}
	l.offset = max(0, min(l.offset, l.count-l.height))
}

// Update moves the cursor for the navigation keys and the mouse wheel and
// reports whether it moved.
func (l *List) Update(msg tea.Msg) bool {
	before := l.cursor
	k := l.c.Keys
	switch msg := msg.(type) {
	case tea.KeyPressMsg:
		switch {
		case key.Matches(msg, k.Up):
			l.move(l.cursor-1, -1)
		case key.Matches(msg, k.Down):
			l.move(l.cursor+1, 1)
		case key.Matches(msg, k.PageUp):
			l.move(l.cursor-max(l.height-1, 1), -1)
		case key.Matches(msg, k.PageDown):
			l.move(l.cursor+max(l.height-1, 1), 1)
		case key.Matches(msg, k.Top):
			l.move(0, 1)
		case key.Matches(msg, k.Bottom):
			l.move(l.count-1, -1)
		}
	case tea.MouseWheelMsg:
		switch msg.Button {
		case tea.MouseWheelUp:
			l.move(l.cursor-3, -1)
		case tea.MouseWheelDown:
			l.move(l.cursor+3, 1)
		}
	}
	return l.cursor != before
}

// Click selects the row at line y of the list and reports whether there
// was one.
func (l *List) Click(y int) bool {
	i := l.offset + y
	if y < 0 || y >= l.height || i >= l.count || (l.skip != nil && l.skip(i)) {
		return false
	}
	l.move(i, 1)
	return true
}

// View renders the rows on screen, padded to the list's height.
func (l *List) View() string {
	if l.height <= 0 {
		return ""
	}
	var b strings.Builder
	end := min(l.offset+l.height, l.count)
	for i := l.offset; i < end; i++ {
		if i > l.offset {
			b.WriteByte('\n')
		}
		b.WriteString(l.render(i, i == l.cursor, l.width))
	}
	for i := max(end-l.offset, 0); i < l.height; i++ {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(strings.Repeat(" ", l.width))
	}
	return b.String()
}
