package common

import (
	"image/color"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/colorprofile"

	"github.com/stridemap/stridemap/threats"
)

// Styles is every style the TUI draws with. DefaultStyles builds it for a
// colour profile; nothing else in the TUI makes a style.
type Styles struct {
	Profile colorprofile.Profile

	App        lipgloss.Style
	Brand      lipgloss.Style // "stridemap" in the tab bar
	Tab        lipgloss.Style
	ActiveTab  lipgloss.Style
	ScanLabel  lipgloss.Style // the scan named at the right of the tab bar
	Heading    lipgloss.Style // a section title in a page
	Muted      lipgloss.Style
	Bold       lipgloss.Style
	Key        lipgloss.Style // a key named in running text
	Error      lipgloss.Style
	Success    lipgloss.Style
	Empty      lipgloss.Style // the empty-store screen
	Command    lipgloss.Style // a command to type
	Border     lipgloss.Style // pane separators
	Box        color.Color    // the diagram's boxes
	Focused    lipgloss.Style // the focused pane's title
	FilterOn   lipgloss.Style // an active filter
	FilterOff  lipgloss.Style
	Added      lipgloss.Style // drift: appeared
	Removed    lipgloss.Style // drift: disappeared
	StatusBar  lipgloss.Style
	StatusText lipgloss.Style
	StatusErr  lipgloss.Style

	TableHeader lipgloss.Style
	Row         lipgloss.Style
	SelectedRow lipgloss.Style
	GroupRow    lipgloss.Style // a namespace heading in a list

	severity map[threats.Severity]lipgloss.Style
	status   map[threats.Status]lipgloss.Style

	BadgeGood lipgloss.Style // encrypted, policy allows, declared and observed
	BadgeBad  lipgloss.Style // plaintext, no policy
	BadgeInfo lipgloss.Style // neutral facts

	Help  help.Styles
	Input textinput.Styles
}

// DefaultStyles builds the styles for a colour profile. With NO_COLOR (the
// Ascii profile) or no terminal, nothing is coloured and emphasis is carried
// by bold and reverse video alone; with 16 colours only the basic ANSI
// palette is used, so the terminal's own theme decides the shades.
func DefaultStyles(p colorprofile.Profile) Styles {
	c := lipgloss.Complete(p)
	// Each colour in the 16-colour palette (the terminal's theme decides
	// its shade), the 256-colour cube, and RGB.
	col := func(basic color.Color, ansi256 int, hex string) color.Color {
		return c(basic, lipgloss.ANSIColor(ansi256), lipgloss.Color(hex))
	}
	var (
		accent  = col(lipgloss.Blue, 33, "#4F9CF9")
		muted   = col(lipgloss.BrightBlack, 245, "#8A8A8A")
		red     = col(lipgloss.Red, 160, "#E5484D")
		orange  = col(lipgloss.Yellow, 208, "#F2933A")
		yellow  = col(lipgloss.BrightYellow, 178, "#D9B526")
		green   = col(lipgloss.Green, 35, "#3DB26B")
		blue    = col(lipgloss.Cyan, 39, "#3EA8DE")
		magenta = col(lipgloss.Magenta, 170, "#C26BDB")
		barBG   = col(lipgloss.Black, 236, "#262A33")
		selBG   = col(lipgloss.Blue, 24, "#1F3A5F")
		fg      = col(lipgloss.White, 252, "#D0D4DC")
	)
	colour := p > colorprofile.ASCII
	s := lipgloss.NewStyle
	st := Styles{Profile: p}
	st.App = s()
	st.Brand = s().Bold(true).Foreground(accent)
	st.Tab = s().Padding(0, 1).Foreground(muted)
	st.ActiveTab = s().Padding(0, 1).Bold(true).Underline(true).Foreground(accent)
	st.ScanLabel = s().Foreground(muted)
	st.Heading = s().Bold(true).Foreground(accent)
	st.Muted = s().Foreground(muted)
	st.Bold = s().Bold(true)
	st.Key = s().Bold(true).Foreground(blue)
	st.Error = s().Bold(true).Foreground(red)
	st.Success = s().Foreground(green)
	st.Empty = s().Padding(1, 2)
	st.Command = s().Bold(true).Foreground(green)
	st.Border = s().Foreground(muted)
	st.Box = muted
	st.Focused = s().Bold(true).Foreground(accent)
	st.FilterOn = s().Bold(true).Foreground(yellow)
	st.FilterOff = s().Foreground(muted)
	st.Added = s().Foreground(green)
	st.Removed = s().Foreground(red)
	st.StatusBar = s().Foreground(fg).Background(barBG)
	st.StatusText = s().Foreground(fg).Background(barBG)
	st.StatusErr = s().Bold(true).Foreground(red).Background(barBG)
	st.TableHeader = s().Bold(true).Foreground(muted)
	st.Row = s()
	st.SelectedRow = s().Bold(true).Foreground(fg).Background(selBG)
	st.GroupRow = s().Bold(true).Foreground(magenta)
	if !colour {
		// No colour: reverse video shows the selection and the status bar,
		// bold shows what is active.
		st.SelectedRow = s().Reverse(true)
		st.StatusBar = s().Reverse(true)
		st.StatusText = s().Reverse(true)
		st.StatusErr = s().Reverse(true).Bold(true)
		st.ActiveTab = s().Padding(0, 1).Bold(true).Underline(true)
	}
	st.severity = map[threats.Severity]lipgloss.Style{
		threats.Critical: s().Bold(true).Foreground(red),
		threats.High:     s().Foreground(orange),
		threats.Medium:   s().Foreground(yellow),
		threats.Low:      s().Foreground(muted),
	}
	st.status = map[threats.Status]lipgloss.Style{
		threats.Open:          s(),
		threats.Accepted:      s().Foreground(blue),
		threats.Mitigated:     s().Foreground(green),
		threats.FalsePositive: s().Foreground(muted),
	}
	st.BadgeGood = s().Foreground(green)
	st.BadgeBad = s().Foreground(red)
	st.BadgeInfo = s().Foreground(blue)

	st.Help = help.Styles{
		Ellipsis:       s().Foreground(muted),
		ShortKey:       s().Bold(true).Foreground(fg).Background(barBG),
		ShortDesc:      s().Foreground(muted).Background(barBG),
		ShortSeparator: s().Foreground(muted).Background(barBG),
		FullKey:        s().Bold(true).Foreground(blue),
		FullDesc:       s(),
		FullSeparator:  s().Foreground(muted),
	}
	if !colour {
		st.Help.ShortKey = s().Bold(true)
		st.Help.ShortDesc = s()
		st.Help.ShortSeparator = s()
	}
	st.Input = textinput.DefaultStyles(true)
	st.Input.Focused.Prompt = s().Bold(true).Foreground(accent)
	st.Input.Cursor.Blink = false // a steady cursor: no timer, and the same frame every time
	st.Input.Cursor.Shape = tea.CursorBlock
	if !colour {
		st.Input = textinput.Styles{Cursor: textinput.CursorStyle{Shape: tea.CursorBlock}}
		st.Input.Focused.Prompt = s().Bold(true)
	}
	return st
}

// Severity styles a severity's name.
func (s Styles) Severity(sev threats.Severity) lipgloss.Style { return s.severity[sev] }

// Status styles a triage status.
func (s Styles) Status(st threats.Status) lipgloss.Style { return s.status[st] }
