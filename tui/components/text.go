package components

import (
	"strings"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
)

// Fit truncates s to width cells (with an ellipsis) and pads it with
// spaces to exactly width.
func Fit(s string, width int) string {
	if width <= 0 {
		return ""
	}
	w := lipgloss.Width(s)
	if w > width {
		return ansi.Truncate(s, width, "…")
	}
	return s + strings.Repeat(" ", width-w)
}

// FitLines makes s exactly width cells wide and height lines high.
func FitLines(s string, width, height int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > height {
		lines = lines[:height]
	}
	for len(lines) < height {
		lines = append(lines, "")
	}
	for i, l := range lines {
		lines[i] = Fit(l, width)
	}
	return strings.Join(lines, "\n")
}

// Wrap word-wraps s to width cells, breaking long words.
func Wrap(s string, width int) string {
	if width <= 0 {
		return s
	}
	return ansi.Wrap(s, width, "")
}

// SideBySide joins two blocks of the given widths with a separator column.
func SideBySide(left string, leftWidth int, sep string, right string, rightWidth, height int) string {
	l := strings.Split(FitLines(left, leftWidth, height), "\n")
	r := strings.Split(FitLines(right, rightWidth, height), "\n")
	var b strings.Builder
	for i := range height {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(l[i])
		b.WriteString(sep)
		b.WriteString(r[i])
	}
	return b.String()
}
