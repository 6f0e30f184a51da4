package tui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/colorprofile"

	"github.com/stridemap/stridemap/model/store"
	"github.com/stridemap/stridemap/threats"
	"github.com/stridemap/stridemap/tui/common"
	"github.com/stridemap/stridemap/tui/components"
	"github.com/stridemap/stridemap/tui/pages"
)

// Options configure the app. The zero value opens the latest scan, signs
// decisions as threats.CurrentUser, and shows local times.
type Options struct {
	ScanID   int64            // the scan to open; 0 for the latest
	User     string           // who signs decisions; "" for threats.CurrentUser("")
	Location *time.Location   // where times are shown; nil for time.Local
	Now      func() time.Time // the clock decisions are stamped with; nil for time.Now
	// Profile is the colour profile to draw with until the terminal reports
	// its own; Unknown means TrueColor. Tests fix it.
	Profile colorprofile.Profile
	// FixedProfile ignores the terminal's report and keeps Profile.
	FixedProfile bool
}

// Page numbers, in tab order.
const (
	PageOverview = iota
	PageMap
	PageThreats
	PageQuestions
	PageDrift
)

// Model is the app: the tab bar, the page on screen, the status bar, and
// the scan data every page reads.
type Model struct {
	c    *common.Common
	opts Options

	pages  []pages.Page
	active int
	tabs   *components.Tabs
	help   help.Model

	showHelp bool
	helpPane *components.Detail
	width    int
	height   int

	scan     *store.ScanInfo
	previous *store.ScanInfo
	triage   map[string]store.Decision
	answers  map[string]store.Decision
	findings *common.Findings
	graph    *common.GraphIndex
	noScans  string // the store's path, when it holds no scan
	loadErr  error

	status    string
	statusErr bool
}

// New returns the app reading and writing s.
func New(ctx context.Context, s *store.Store, opts Options) *Model {
	if opts.User == "" {
		opts.User = threats.CurrentUser("")
	}
	if opts.Location == nil {
		opts.Location = time.Local
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Profile == colorprofile.Unknown {
		opts.Profile = colorprofile.TrueColor
	}
	c := &common.Common{Ctx: ctx, Store: s, Styles: common.DefaultStyles(opts.Profile), Keys: common.DefaultKeyMap(),
		User: opts.User, Loc: opts.Location, Now: opts.Now}
	m := &Model{c: c, opts: opts, help: help.New(), helpPane: components.NewDetail(c)}
	m.pages = []pages.Page{pages.NewOverview(c), pages.NewMap(c), pages.NewThreats(c), pages.NewQuestions(c), pages.NewDrift(c)}
	titles := make([]string, len(m.pages))
	for i, p := range m.pages {
		titles[i] = p.Title()
	}
	m.tabs = components.NewTabs(c, titles...)
	m.help.Styles = c.Styles.Help
	m.status = "Loading…"
	return m
}

// Run runs the app on a terminal until the user quits.
func Run(ctx context.Context, s *store.Store, opts Options, in io.Reader, out io.Writer) error {
	p := tea.NewProgram(New(ctx, s, opts), tea.WithContext(ctx), tea.WithInput(in), tea.WithOutput(out))
	_, err := p.Run()
	if errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil {
		return nil // interrupted: leave quietly
	}
	return err
}

// Init loads the scan.
func (m *Model) Init() tea.Cmd {
	return common.LoadScanCmd(m.c.Ctx, m.c.Store, m.opts.ScanID)
}

// Active is the page on screen.
func (m *Model) Active() int { return m.active }

// Update handles a message.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.help.SetWidth(msg.Width)
		for _, p := range m.pages {
			p.SetSize(msg.Width, m.pageHeight())
		}
		m.helpPane.SetSize(m.width, m.pageHeight())
		m.helpPane.SetContent("help", m.fullHelp())
		return m, nil
	case tea.ColorProfileMsg:
		if !m.opts.FixedProfile {
			m.setProfile(msg.Profile)
		}
		return m, nil
	case tea.KeyPressMsg:
		return m, m.key(msg)
	case tea.MouseClickMsg:
		if msg.Y == 0 {
			if i := m.tabs.At(msg.X); i >= 0 && m.ready() {
				m.setPage(i)
			}
			return m, nil
		}
		msg.Y--
		return m, m.toPage(msg)
	case tea.MouseWheelMsg:
		if m.showHelp {
			m.helpPane.Update(msg)
			return m, nil
		}
		msg.Y--
		return m, m.toPage(msg)
	case tea.PasteMsg:
		return m, m.toPage(msg)

	case common.NoScansMsg:
		m.noScans, m.status = msg.DB, "No scans yet"
		return m, nil
	case common.ScanLoadedMsg:
		m.scan, m.previous, m.triage, m.answers = &msg.Scan, msg.Previous, msg.Triage, msg.Answers
		m.findings, m.graph, m.noScans, m.loadErr = nil, nil, "", nil
		m.status = fmt.Sprintf("Scan #%d: loading findings…", msg.Scan.ID)
		return m, tea.Batch(m.broadcast(msg), common.LoadFindingsCmd(m.c.Ctx, m.c.Store, msg.Scan.ID))
	case common.FindingsLoadedMsg:
		m.findings = msg.Findings
		m.status = fmt.Sprintf("Scan #%d: %d findings; loading the graph…", msg.ScanID, msg.Findings.Len())
		return m, tea.Batch(m.broadcast(msg), common.LoadGraphCmd(m.c.Ctx, m.c.Store, msg.ScanID, msg.Findings),
			common.SearchIndexCmd(msg.Findings))
	case common.SearchIndexedMsg:
		msg.Findings.SetSearchIndex(msg.Index)
		return m, nil
	case common.GraphLoadedMsg:
		m.graph = msg.Graph
		m.status = fmt.Sprintf("Scan #%d: %d elements, %d flows, %d findings", msg.ScanID, len(msg.Graph.Graph.Nodes), len(msg.Graph.Graph.Edges), m.findings.Len())
		cmds := []tea.Cmd{m.broadcast(msg)}
		if m.previous != nil {
			cmds = append(cmds, common.LoadDriftCmd(m.c.Ctx, m.c.Store, *m.previous, *m.scan))
		}
		return m, tea.Batch(cmds...)
	case common.TriageSavedMsg:
		d := msg.Decision
		m.triage[d.Subject] = d
		m.status, m.statusErr = fmt.Sprintf("✓ %s by %s: %s", d.Status, d.Who, d.Subject), false
		return m, m.broadcast(msg)
	case common.AnswerSavedMsg:
		d := msg.Decision
		m.answers[d.Subject] = d
		m.status, m.statusErr = fmt.Sprintf("✓ %s: %s by %s", d.Subject, d.Status, d.Who), false
		return m, m.broadcast(msg)
	case common.ErrorMsg:
		if m.scan == nil {
			m.loadErr = msg.Err
		}
		m.status, m.statusErr = msg.Err.Error(), true
		return m, nil
	case common.StatusMsg:
		m.status, m.statusErr = msg.Text, false
		return m, nil
	case common.ShowOnMapMsg:
		m.setPage(PageMap)
		return m, m.pages[PageMap].Update(msg)
	}
	return m, m.broadcast(msg)
}

func (m *Model) setProfile(p colorprofile.Profile) {
	m.c.Styles = common.DefaultStyles(p)
	m.help.Styles = m.c.Styles.Help
	for _, pg := range m.pages { // styles are baked into the detail panes' text
		pg.SetSize(m.width, m.pageHeight())
	}
}

// broadcast gives a message to every page.
func (m *Model) broadcast(msg tea.Msg) tea.Cmd {
	cmds := make([]tea.Cmd, 0, len(m.pages))
	for _, p := range m.pages {
		cmds = append(cmds, p.Update(msg))
	}
	return tea.Batch(cmds...)
}

func (m *Model) toPage(msg tea.Msg) tea.Cmd {
	if !m.ready() || m.showHelp {
		return nil
	}
	return m.pages[m.active].Update(msg)
}

// ready reports whether a scan is open.
func (m *Model) ready() bool { return m.scan != nil }

func (m *Model) setPage(i int) {
	m.active = (i + len(m.pages)) % len(m.pages)
}

func (m *Model) key(msg tea.KeyPressMsg) tea.Cmd {
	k := m.c.Keys
	if key.Matches(msg, k.Interrupt) {
		return tea.Quit
	}
	page := m.pages[m.active]
	if m.ready() && page.Capturing() {
		m.statusErr = false
		return page.Update(msg)
	}
	if m.showHelp {
		switch {
		case key.Matches(msg, k.Quit):
			return tea.Quit
		case key.Matches(msg, k.Help), key.Matches(msg, k.Cancel):
			m.showHelp = false
		default:
			m.helpPane.Update(msg)
		}
		return nil
	}
	switch {
	case key.Matches(msg, k.Quit):
		return tea.Quit
	case key.Matches(msg, k.Help):
		m.showHelp = true
		m.helpPane.SetSize(m.width, m.pageHeight())
		m.helpPane.SetContent("help", m.fullHelp())
		return nil
	case key.Matches(msg, k.Reload):
		m.status = "Reloading…"
		return common.LoadScanCmd(m.c.Ctx, m.c.Store, m.opts.ScanID)
	}
	if !m.ready() {
		return nil
	}
	switch {
	case key.Matches(msg, k.NextPage):
		m.setPage(m.active + 1)
		return nil
	case key.Matches(msg, k.PrevPage):
		m.setPage(m.active - 1)
		return nil
	case key.Matches(msg, k.Overview):
		m.setPage(PageOverview)
		return nil
	case key.Matches(msg, k.Map):
		m.setPage(PageMap)
		return nil
	case key.Matches(msg, k.Threats):
		m.setPage(PageThreats)
		return nil
	case key.Matches(msg, k.Questions):
		m.setPage(PageQuestions)
		return nil
	case key.Matches(msg, k.Drift):
		m.setPage(PageDrift)
		return nil
	}
	m.statusErr = false
	return page.Update(msg)
}

// pageHeight is the height left for a page: all but the tab and status bars.
func (m *Model) pageHeight() int { return max(m.height-2, 1) }

// View renders the screen.
func (m *Model) View() tea.View {
	v := tea.NewView(m.render())
	v.AltScreen = true
	v.MouseMode = tea.MouseModeCellMotion
	v.WindowTitle = "stridemap"
	if m.scan != nil {
		v.WindowTitle = fmt.Sprintf("stridemap — scan #%d", m.scan.ID)
	}
	return v
}

// render draws the screen as text: the tab bar, the page (or the help, the
// empty-store screen, an error) and the status bar.
func (m *Model) render() string {
	if m.width == 0 || m.height == 0 {
		return ""
	}
	st := m.c.Styles
	right := ""
	if m.scan != nil {
		right = fmt.Sprintf("scan #%d", m.scan.ID)
		if m.width >= 100 {
			right += " · " + m.c.Time(m.scan.StartedAt)
		}
	}
	var body string
	h := m.pageHeight()
	switch {
	case m.showHelp:
		body = m.helpPane.View()
	case m.noScans != "":
		body = m.emptyView()
	case m.loadErr != nil:
		body = st.Empty.Render(st.Error.Render("Could not open the scan:") + "\n\n" + components.Wrap(m.loadErr.Error(), m.width-st.Empty.GetHorizontalFrameSize()))
	case m.scan == nil:
		body = st.Empty.Render(st.Muted.Render("Opening the store…"))
	default:
		body = m.pages[m.active].View()
	}
	var helpText string
	page := m.pages[m.active]
	bindings := m.c.Keys.ShortHelp()
	switch {
	case m.ready() && page.Capturing():
		bindings = page.ShortHelp()
	case m.ready() && !m.showHelp:
		bindings = append(page.ShortHelp(), bindings...)
	}
	// The message gets the room it needs, up to all but 30 cells; the help
	// takes the rest.
	room := m.width - min(lipgloss.Width(m.status)+3, max(m.width-30, m.width/2))
	m.help.SetWidth(max(room, 0))
	helpText = m.help.ShortHelpView(bindings)
	return m.tabs.View(m.activeTab(), m.width, right) + "\n" +
		components.FitLines(body, m.width, h) + "\n" +
		components.StatusBar(m.c, m.width, m.status, m.statusErr, helpText)
}

func (m *Model) activeTab() int {
	if !m.ready() {
		return -1
	}
	return m.active
}

// emptyView is shown when the store holds no scan: what to run.
func (m *Model) emptyView() string {
	st := m.c.Styles
	cmd := "stridemap scan -f DIR"
	if m.noScans != store.DefaultPath && os.Getenv("STRIDEMAP_DB") != m.noScans {
		cmd = "stridemap --db " + m.noScans + " scan -f DIR"
	}
	var b strings.Builder
	b.WriteString(st.Bold.Render("No scans in "+m.noScans+" yet.") + "\n\n")
	b.WriteString("Scan your Kubernetes manifests first:\n\n")
	b.WriteString("    " + st.Command.Render(cmd) + "\n\n")
	b.WriteString(st.Muted.Render("DIR holds YAML or JSON manifests; -k DIR renders a kustomization.") + "\n")
	b.WriteString(st.Muted.Render("Then press " + m.c.Keys.Reload.Help().Key + " here to open the scan, or " + m.c.Keys.Quit.Help().Key + " to quit."))
	return st.Empty.Render(components.Wrap(b.String(), m.width-st.Empty.GetHorizontalFrameSize()))
}

// fullHelp is the ? screen: every binding of the KeyMap, drawn by
// bubbles/help one titled group at a time, in as many rows of groups as the
// width needs.
func (m *Model) fullHelp() string {
	st := m.c.Styles
	groups, titles := m.c.Keys.FullHelp(), m.c.Keys.FullHelpTitles()
	m.help.SetWidth(0)
	var rows, row []string
	width := 0
	for i, g := range groups {
		block := st.Heading.Render(titles[i]) + "\n" + m.help.FullHelpView([][]key.Binding{g})
		block = lipgloss.NewStyle().PaddingRight(4).Render(block)
		w := lipgloss.Width(block)
		if len(row) > 0 && width+w > m.width-2 {
			rows = append(rows, lipgloss.JoinHorizontal(lipgloss.Top, row...))
			row, width = nil, 0
		}
		row = append(row, block)
		width += w
	}
	if len(row) > 0 {
		rows = append(rows, lipgloss.JoinHorizontal(lipgloss.Top, row...))
	}
	title := st.Bold.Render("Keys") + st.Muted.Render(fmt.Sprintf("  %s or %s closes, %s %s scroll", m.c.Keys.Help.Help().Key,
		m.c.Keys.Cancel.Help().Key, m.c.Keys.Down.Help().Key, m.c.Keys.Up.Help().Key))
	return lipgloss.NewStyle().Padding(0, 1).Render(title + "\n\n" + strings.Join(rows, "\n\n"))
}
