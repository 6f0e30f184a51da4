package components

import (
	"strings"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/stridemap/stridemap/tui/common"
)

// Column is a table column. A Width of 0 shares the width left over by the
// fixed columns with the other flexible ones; Min is the least a flexible
// column gets before it is hidden.
type Column struct {
	Title string
	Width int
	Min   int
}

// CellFunc returns row i's cells as plain text, one per column, and a style
// for each (the zero style for none). Selected rows ignore cell styles so
// the selection reads as one bar.
type CellFunc func(i int) (cells []string, styles []lipgloss.Style)

// Table is a List with a header and columns.
type Table struct {
	*List
	c       *common.Common
	columns []Column
	widths  []int
	cells   CellFunc
	width   int
	blurred bool // the focus is elsewhere: the selection is shown, not highlighted
}

// SetFocused says whether the table has the focus.
func (t *Table) SetFocused(focused bool) { t.blurred = !focused }

// NewTable returns a table drawing rows from cells.
func NewTable(c *common.Common, columns []Column, cells CellFunc) *Table {
	t := &Table{c: c, columns: columns, cells: cells}
	t.List = NewList(c, t.renderRow)
	return t
}

// SetColumns replaces the columns.
func (t *Table) SetColumns(columns []Column) {
	t.columns = columns
	t.layout()
}

// SetSize sets the table's size, header included.
func (t *Table) SetSize(width, height int) {
	t.width = width
	t.layout()
	t.List.SetSize(width, height-1)
}

// layout computes column widths: fixed columns get theirs, flexible ones
// share the rest; a column that does not fit gets 0 and is not drawn.
func (t *Table) layout() {
	t.widths = make([]int, len(t.columns))
	left := t.width
	flex := 0
	for i, col := range t.columns {
		if col.Width > 0 {
			w := min(col.Width, max(left-1, 0))
			t.widths[i] = w
			left -= w + 1
		} else {
			flex++
		}
	}
	for i, col := range t.columns {
		if col.Width > 0 || flex == 0 {
			continue
		}
		w := max(left-(flex-1), 0) / flex
		if w < col.Min {
			w = 0
		}
		t.widths[i] = w
		left -= w + 1
		flex--
	}
}

// Click selects the row at line y of the table (the header is line 0).
func (t *Table) Click(y int) bool { return t.List.Click(y - 1) }

// Update handles navigation, as List.Update.
func (t *Table) Update(msg tea.Msg) bool { return t.List.Update(msg) }

// View renders the header and the rows on screen.
func (t *Table) View() string {
	var head []string
	for i, col := range t.columns {
		if t.widths[i] > 0 {
			head = append(head, Fit(col.Title, t.widths[i]))
		}
	}
	return t.c.Styles.TableHeader.Render(Fit(strings.Join(head, " "), t.width)) + "\n" + t.List.View()
}

func (t *Table) renderRow(i int, selected bool, width int) string {
	cells, styles := t.cells(i)
	var b strings.Builder
	first := true
	for col, w := range t.widths {
		if w == 0 || col >= len(cells) {
			continue
		}
		if !first {
			b.WriteByte(' ')
		}
		first = false
		cell := Fit(cells[col], w)
		if !selected && col < len(styles) {
			cell = styles[col].Render(cell)
		}
		b.WriteString(cell)
	}
	line := Fit(b.String(), width)
	switch {
	case selected && t.blurred:
		return t.c.Styles.Bold.Render(line)
	case selected:
		return t.c.Styles.SelectedRow.Render(line)
	}
	return line
}
