package pages

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/stridemap/stridemap/catalog"
	"github.com/stridemap/stridemap/model/store"
	"github.com/stridemap/stridemap/tui/common"
	"github.com/stridemap/stridemap/tui/components"
)

// Questions lists the review questions with their answers, and answers
// them in place: a key picks yes, partly, no or n/a, a prompt takes a note.
type Questions struct {
	c         *common.Common
	questions []catalog.Question
	loadErr   error
	answers   map[string]store.Decision

	table   *components.Table
	detail  *components.Detail
	input   *components.Input
	pending string // the answer the note prompt will record
	target  string // the question it is about

	width, height int
}

// NewQuestions returns the page with the built-in questions.
func NewQuestions(c *common.Common) *Questions {
	p := &Questions{c: c, answers: map[string]store.Decision{}}
	p.questions, p.loadErr = catalog.Questions()
	p.table = components.NewTable(c, []components.Column{
		{Title: "ANSWER", Width: 7},
		{Title: "S", Width: 1},
		{Title: "TOPIC", Width: 14},
		{Title: "QUESTION", Min: 10},
	}, p.cells)
	p.table.SetCount(len(p.questions))
	p.detail = components.NewDetail(c)
	p.input = components.NewInput(c)
	return p
}

// Title implements Page.
func (p *Questions) Title() string { return "Questions" }

// Capturing implements Page.
func (p *Questions) Capturing() bool { return p.input.Active() }

// ShortHelp implements Page.
func (p *Questions) ShortHelp() []key.Binding {
	k := p.c.Keys
	if p.input.Active() {
		return []key.Binding{k.Confirm, k.Cancel}
	}
	return []key.Binding{k.AnswerYes, k.AnswerPartly, k.AnswerNo, k.AnswerNA}
}

// SetSize implements Page.
func (p *Questions) SetSize(width, height int) {
	p.width, p.height = width, height
	p.layout()
}

func (p *Questions) layout() {
	h := p.height - 1 // the summary line
	if p.input.Active() {
		h--
	}
	h = max(h, 2)
	p.input.SetWidth(p.width)
	if p.width >= wideWidth {
		tw := p.width * 11 / 20
		p.table.SetSize(tw, h)
		p.detail.SetSize(p.width-tw-3, h)
	} else {
		// The table above, the selected question below.
		th := max(h/2, 2)
		p.table.SetSize(p.width, th)
		p.detail.SetSize(p.width, max(h-th-1, 1))
	}
	p.refreshDetail()
}

// Update implements Page.
func (p *Questions) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case common.ScanLoadedMsg:
		p.answers = msg.Answers
		p.refreshDetail()
	case common.AnswerSavedMsg:
		p.refreshDetail()
	case tea.KeyPressMsg:
		return p.key(msg)
	case tea.PasteMsg:
		if p.input.Active() {
			return p.input.Update(msg)
		}
	case tea.MouseClickMsg:
		if msg.Button == tea.MouseLeft && !p.input.Active() && p.table.Click(msg.Y-1) {
			p.refreshDetail()
		}
	case tea.MouseWheelMsg:
		if p.table.Update(msg) {
			p.refreshDetail()
		}
	}
	return nil
}

func (p *Questions) key(msg tea.KeyPressMsg) tea.Cmd {
	k := p.c.Keys
	if p.input.Active() {
		switch {
		case key.Matches(msg, k.Confirm):
			d := store.Decision{Subject: p.target, Status: p.pending, Reason: strings.TrimSpace(p.input.Value()), Who: p.c.User, At: p.c.Now()}
			p.input.Close()
			p.layout()
			return common.SaveAnswerCmd(p.c.Ctx, p.c.Store, d)
		case key.Matches(msg, k.Cancel):
			p.input.Close()
			p.layout()
			return nil
		}
		return p.input.Update(msg)
	}
	answers := map[string]key.Binding{"yes": k.AnswerYes, "partly": k.AnswerPartly, "no": k.AnswerNo, "n/a": k.AnswerNA}
	for _, a := range catalog.Answers {
		if b, ok := answers[a]; ok && key.Matches(msg, b) {
			return p.startAnswer(a)
		}
	}
	if p.table.Update(msg) {
		p.refreshDetail()
	}
	return nil
}

func (p *Questions) startAnswer(answer string) tea.Cmd {
	c := p.table.Cursor()
	if c < 0 {
		return nil
	}
	q := p.questions[c]
	p.pending, p.target = answer, q.ID
	note := ""
	if d, ok := p.answers[q.ID]; ok {
		note = d.Reason
	}
	cmd := p.input.Open(answer+" · note", "evidence or context (optional); enter saves, esc cancels", note)
	p.layout()
	return cmd
}

func (p *Questions) cells(i int) ([]string, []lipgloss.Style) {
	q := p.questions[i]
	st := p.c.Styles
	answer, style := "—", st.Muted
	if d, ok := p.answers[q.ID]; ok {
		answer, style = d.Status, st.Row
		switch d.Status {
		case "yes":
			style = st.BadgeGood
		case "no":
			style = st.BadgeBad
		case "partly":
			style = st.FilterOn
		}
	}
	return []string{answer, q.Stride.Letter(), q.Topic, q.Question}, []lipgloss.Style{style, st.Bold, st.Muted, st.Row}
}

func (p *Questions) refreshDetail() {
	c := p.table.Cursor()
	if c < 0 || c >= len(p.questions) {
		p.detail.SetContent("", "")
		return
	}
	st := p.c.Styles
	q := p.questions[c]
	w := p.detail.Width()
	var b strings.Builder
	b.WriteString(st.Bold.Render(components.Wrap(q.Question, w)) + "\n")
	b.WriteString(st.Muted.Render(q.ID+" · "+q.Topic+" · "+q.Stride.Letter()+" "+string(q.Stride)) + "\n\n")
	b.WriteString(st.Heading.Render("Why it matters") + "\n" + components.Wrap(strings.TrimSpace(q.Why), w) + "\n\n")
	b.WriteString(st.Heading.Render("Answer") + "\n")
	if d, ok := p.answers[q.ID]; ok {
		line := fmt.Sprintf("%s by %s, %s", d.Status, d.Who, p.c.Time(d.At))
		if d.Reason != "" {
			line += ": " + d.Reason
		}
		b.WriteString(components.Wrap(line, w))
	} else {
		k := p.c.Keys
		var keys []string
		for _, kb := range []key.Binding{k.AnswerYes, k.AnswerPartly, k.AnswerNo, k.AnswerNA} {
			keys = append(keys, kb.Help().Key+" "+kb.Help().Desc)
		}
		b.WriteString(st.Muted.Render("not answered — " + strings.Join(keys, " · ")))
	}
	p.detail.SetContent(q.ID, b.String())
}

// View implements Page.
func (p *Questions) View() string {
	st := p.c.Styles
	if p.loadErr != nil {
		return components.FitLines(st.Error.Render(p.loadErr.Error()), p.width, p.height)
	}
	answered := 0
	for _, q := range p.questions {
		if _, ok := p.answers[q.ID]; ok {
			answered++
		}
	}
	head := fmt.Sprintf("Review questions: controls no manifest can show · %d of %d answered", answered, len(p.questions))
	var body string
	if p.width >= wideWidth {
		h := p.table.Height() + 1
		body = components.SideBySide(p.table.View(), p.table.Width(), st.Border.Render(" │ "), p.detail.View(), p.detail.Width(), h)
	} else {
		body = p.table.View() + "\n" + st.Border.Render(strings.Repeat("─", p.width)) + "\n" + p.detail.View()
	}
	out := components.Fit(head, p.width) + "\n" + body
	if p.input.Active() {
		out += "\n" + components.Fit(p.input.View(), p.width)
	}
	return components.FitLines(out, p.width, p.height)
}
