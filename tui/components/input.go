package components

import (
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"github.com/stridemap/stridemap/tui/common"
)

// Input is a one-line prompt: a reason for a triage decision, a note on an
// answer, a search. While it is open it takes every key; the page decides
// what Enter and Esc mean.
type Input struct {
	c     *common.Common
	ti    textinput.Model
	label string
	open  bool
}

// NewInput returns a closed prompt.
func NewInput(c *common.Common) *Input {
	ti := textinput.New()
	ti.CharLimit = 500
	return &Input{c: c, ti: ti}
}

// Open shows the prompt with a label and initial value, focused.
func (in *Input) Open(label, placeholder, value string) tea.Cmd {
	in.label, in.open = label, true
	in.ti.SetStyles(in.c.Styles.Input)
	in.ti.Prompt = label + " › "
	in.ti.Placeholder = placeholder
	in.ti.SetValue(value)
	in.ti.CursorEnd()
	return in.ti.Focus()
}

// Close hides the prompt.
func (in *Input) Close() {
	in.open = false
	in.ti.Blur()
}

// Active reports whether the prompt is open.
func (in *Input) Active() bool { return in.open }

// Value is the text typed.
func (in *Input) Value() string { return in.ti.Value() }

// Label is what the prompt asks for.
func (in *Input) Label() string { return in.label }

// SetWidth sets the prompt's width.
func (in *Input) SetWidth(w int) { in.ti.SetWidth(max(w-len([]rune(in.ti.Prompt))-1, 1)) }

// Update edits the text.
func (in *Input) Update(msg tea.Msg) tea.Cmd {
	var cmd tea.Cmd
	in.ti, cmd = in.ti.Update(msg)
	return cmd
}

// View renders the prompt line.
func (in *Input) View() string {
	if !in.open {
		return ""
	}
	return in.ti.View()
}
