package common

import "charm.land/bubbles/v2/key"

// KeyMap is every key binding of the TUI, in one place, so the help screen,
// the status bar and the pages never disagree about what a key does. Pages
// read the bindings they handle from it; the same key may mean different
// things on different pages (n is "namespace" on Threats, "no" on
// Questions), never two things on one page.
type KeyMap struct {
	// Global.
	Quit, Interrupt      key.Binding
	Help, Reload         key.Binding
	NextPage, PrevPage   key.Binding
	Overview, Map        key.Binding
	Threats, Questions   key.Binding
	Drift                key.Binding
	Search, Back, Cancel key.Binding
	Confirm              key.Binding

	// Moving in lists and panes.
	Up, Down, PageUp, PageDown, Top, Bottom key.Binding
	Left, Right                             key.Binding

	// Threats: filters, sorting, the detail pane.
	Categories                                 key.Binding // s…e together, for help
	Spoofing, Tampering, Repudiation           key.Binding
	InfoDisclosure, DenialOfService, Elevation key.Binding
	Severity, Namespace, Status, Sort, Clear   key.Binding
	Open                                       key.Binding

	// Triage, in place on the Threats page.
	Accept, Mitigated, FalsePositive, Reopen key.Binding

	// Map.
	Jump key.Binding

	// Drift: which scans to compare, which section to list, where a
	// change is on the Map.
	OldScan, NewScan, Section, ShowOnMap key.Binding

	// Questions.
	AnswerYes, AnswerPartly, AnswerNo, AnswerNA key.Binding
}

// DefaultKeyMap returns the bindings described in the README.
func DefaultKeyMap() KeyMap {
	b := func(keys []string, help, desc string) key.Binding {
		return key.NewBinding(key.WithKeys(keys...), key.WithHelp(help, desc))
	}
	return KeyMap{
		Quit:      b([]string{"q"}, "q", "quit"),
		Interrupt: b([]string{"ctrl+c"}, "ctrl+c", "quit, even while typing"),
		Help:      b([]string{"?"}, "?", "all keys"),
		Reload:    b([]string{"ctrl+r"}, "ctrl+r", "reload the latest scan"),
		NextPage:  b([]string{"tab"}, "tab", "next page"),
		PrevPage:  b([]string{"shift+tab"}, "shift+tab", "previous page"),
		Overview:  b([]string{"1"}, "1", "overview"),
		Map:       b([]string{"2"}, "2", "map"),
		Threats:   b([]string{"3"}, "3", "threats"),
		Questions: b([]string{"4"}, "4", "questions"),
		Drift:     b([]string{"5"}, "5", "drift"),
		Search:    b([]string{"/"}, "/", "search"),
		Back:      b([]string{"backspace"}, "backspace", "back"),
		Cancel:    b([]string{"esc"}, "esc", "close / clear"),
		Confirm:   b([]string{"enter"}, "enter", "confirm"),

		Up:       b([]string{"up", "k"}, "↑/k", "up"),
		Down:     b([]string{"down", "j"}, "↓/j", "down"),
		PageUp:   b([]string{"pgup", "ctrl+u"}, "pgup", "page up"),
		PageDown: b([]string{"pgdown", "ctrl+d", "space"}, "pgdn", "page down"),
		Top:      b([]string{"home", "g"}, "g", "top"),
		Bottom:   b([]string{"end", "G"}, "G", "bottom"),
		Left:     b([]string{"left", "h"}, "←/h", "list"),
		Right:    b([]string{"right", "l"}, "→/l", "flows"),

		Categories:      b([]string{"s", "t", "r", "i", "d", "e", "S", "T", "R", "I", "D", "E"}, "s t r i d e", "STRIDE filter"),
		Spoofing:        b([]string{"s", "S"}, "s", "spoofing"),
		Tampering:       b([]string{"t", "T"}, "t", "tampering"),
		Repudiation:     b([]string{"r", "R"}, "r", "repudiation"),
		InfoDisclosure:  b([]string{"i", "I"}, "i", "information disclosure"),
		DenialOfService: b([]string{"d", "D"}, "d", "denial of service"),
		Elevation:       b([]string{"e", "E"}, "e", "elevation of privilege"),
		Severity:        b([]string{"v"}, "v", "min severity"),
		Namespace:       b([]string{"n"}, "n", "namespace"),
		Status:          b([]string{"x"}, "x", "status"),
		Sort:            b([]string{"o"}, "o", "sort"),
		Clear:           b([]string{"c"}, "c", "clear filters"),
		Open:            b([]string{"enter"}, "enter", "open"),

		Accept:        b([]string{"a"}, "a", "accept"),
		Mitigated:     b([]string{"m"}, "m", "mitigated"),
		FalsePositive: b([]string{"f"}, "f", "false positive"),
		Reopen:        b([]string{"u"}, "u", "reopen"),

		Jump: b([]string{"enter"}, "enter", "flows / jump"),

		OldScan:   b([]string{"o"}, "o", "pick the old scan"),
		NewScan:   b([]string{"n"}, "n", "pick the new scan"),
		Section:   b([]string{"s"}, "s", "section filter"),
		ShowOnMap: b([]string{"m"}, "m", "show on the map"),

		AnswerYes:    b([]string{"y"}, "y", "yes"),
		AnswerPartly: b([]string{"p"}, "p", "partly"),
		AnswerNo:     b([]string{"n"}, "n", "no"),
		AnswerNA:     b([]string{"x"}, "x", "n/a"),
	}
}

// ShortHelp is the global part of the status bar's help; pages put their
// own most used bindings in front of it.
func (k KeyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.NextPage, k.Help, k.Quit}
}

// FullHelp is the ? screen: every binding, grouped by where it works.
func (k KeyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{k.Overview, k.Map, k.Threats, k.Questions, k.Drift, k.NextPage, k.PrevPage, k.Help, k.Reload, k.Quit, k.Interrupt},
		{k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Bottom, k.Search, k.Cancel},
		{k.Spoofing, k.Tampering, k.Repudiation, k.InfoDisclosure, k.DenialOfService, k.Elevation},
		{k.Severity, k.Namespace, k.Status, k.Sort, k.Clear, k.Open},
		{k.Accept, k.Mitigated, k.FalsePositive, k.Reopen},
		{k.Jump, k.Back, k.Left, k.Right},
		{k.AnswerYes, k.AnswerPartly, k.AnswerNo, k.AnswerNA},
		{k.OldScan, k.NewScan, k.Section, k.ShowOnMap},
	}
}

// FullHelpTitles names the groups of FullHelp, in the same order.
func (k KeyMap) FullHelpTitles() []string {
	return []string{"Pages", "Move", "Threats: STRIDE", "Threats: filter", "Threats: triage", "Map", "Questions", "Drift"}
}
