package components

import (
	"fmt"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"

	"github.com/stridemap/stridemap/tui/common"
)

func testCommon() *common.Common {
	return &common.Common{Styles: common.DefaultStyles(colorprofile.ASCII), Keys: common.DefaultKeyMap()}
}

func press(code rune, text string) tea.KeyPressMsg { return tea.KeyPressMsg{Code: code, Text: text} }

// TestListRendersOnlyVisibleRows: a list of a million rows asks for the
// rows on screen and no others, however far it scrolls.
func TestListRendersOnlyVisibleRows(t *testing.T) {
	var rendered []int
	l := NewList(testCommon(), func(i int, selected bool, width int) string {
		rendered = append(rendered, i)
		mark := " "
		if selected {
			mark = ">"
		}
		return Fit(fmt.Sprintf("%s%d", mark, i), width)
	})
	l.SetCount(1_000_000)
	l.SetSize(20, 10)

	view := l.View()
	if len(rendered) != 10 || rendered[0] != 0 || rendered[9] != 9 {
		t.Fatalf("first frame rendered rows %v, want 0…9", rendered)
	}
	if lines := strings.Split(view, "\n"); len(lines) != 10 || lines[0] != Fit(">0", 20) {
		t.Errorf("view = %q", view)
	}

	rendered = nil
	l.Update(press(tea.KeyEnd, ""))
	l.View()
	if l.Cursor() != 999_999 || len(rendered) != 10 || rendered[0] != 999_990 {
		t.Errorf("after End: cursor %d, rendered %v", l.Cursor(), rendered)
	}

	rendered = nil
	l.Update(press(tea.KeyPgUp, ""))
	l.View()
	if l.Cursor() != 999_990 || len(rendered) != 10 {
		t.Errorf("after PgUp: cursor %d, rendered %d rows", l.Cursor(), len(rendered))
	}
}

func TestListNavigation(t *testing.T) {
	l := NewList(testCommon(), func(i int, selected bool, width int) string { return Fit(fmt.Sprint(i), width) })
	l.SetCount(30)
	l.SetSize(10, 5)
	heading := func(i int) bool { return i%10 == 0 } // rows 0, 10, 20 are headings
	l.SetSkip(heading)
	l.Select(0)
	if l.Cursor() != 1 {
		t.Errorf("the cursor starts on a heading: %d", l.Cursor())
	}
	steps := []struct {
		msg  tea.Msg
		want int
	}{
		{press('j', "j"), 2},
		{press(tea.KeyDown, ""), 3},
		{press('k', "k"), 2},
		{press('G', "G"), 29},
		{press('g', "g"), 1},
		{tea.MouseWheelMsg{Button: tea.MouseWheelDown}, 4},
		{tea.MouseWheelMsg{Button: tea.MouseWheelDown}, 7},
		{tea.MouseWheelMsg{Button: tea.MouseWheelDown}, 11}, // 10 is a heading: stepped over
		{tea.MouseWheelMsg{Button: tea.MouseWheelUp}, 8},
	}
	for i, s := range steps {
		l.Update(s.msg)
		if l.Cursor() != s.want {
			t.Fatalf("step %d (%v): cursor %d, want %d", i, s.msg, l.Cursor(), s.want)
		}
		if c := l.Cursor(); c < l.Offset() || c >= l.Offset()+5 {
			t.Fatalf("step %d: cursor %d is off screen (offset %d)", i, c, l.Offset())
		}
	}
	// A click selects the row under it, not a heading, not past the end.
	off := l.Offset()
	if !l.Click(1) || l.Cursor() != off+1 {
		t.Errorf("click on line 1 selected %d (offset %d)", l.Cursor(), off)
	}
	l.SetCount(3)
	if l.Cursor() != 2 {
		t.Errorf("shrinking the list keeps the cursor on a row: %d", l.Cursor())
	}
	if l.Click(4) {
		t.Error("a click below the last row selected something")
	}
	l.SetCount(0)
	if l.Cursor() != -1 || l.View() != strings.TrimSuffix(strings.Repeat(Fit("", 10)+"\n", 5), "\n") {
		t.Errorf("an empty list: cursor %d, view %q", l.Cursor(), l.View())
	}
}

func TestTableColumns(t *testing.T) {
	c := testCommon()
	tb := NewTable(c, []Column{{Title: "A", Width: 3}, {Title: "NAME", Min: 4}, {Title: "MORE", Min: 4}}, func(i int) ([]string, []lipgloss.Style) {
		return []string{"abcdef", "name-that-is-long", "x"}, nil
	})
	tb.SetCount(2)
	tb.SetSize(20, 3)
	lines := strings.Split(ansi.Strip(tb.View()), "\n")
	if len(lines) != 3 {
		t.Fatalf("a table of height 3 is the header and 2 rows, got %d lines", len(lines))
	}
	if lines[0] != "A   NAME    MORE    " {
		t.Errorf("header = %q", lines[0])
	}
	if lines[2] != "ab… name-t… x       " {
		t.Errorf("row = %q: cells are cut to their column", lines[2])
	}
	// Too narrow for the flexible columns: they are left out, not squeezed.
	tb.SetSize(8, 3)
	if got := strings.Split(ansi.Strip(tb.View()), "\n")[0]; got != "A       " {
		t.Errorf("narrow header = %q", got)
	}
}
