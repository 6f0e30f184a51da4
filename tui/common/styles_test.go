package common

import (
	"regexp"
	"strings"
	"testing"

	"github.com/charmbracelet/colorprofile"

	"github.com/stridemap/stridemap/threats"
)

// sgr matches Select Graphic Rendition escape codes and captures their
// parameters.
var sgr = regexp.MustCompile(`\x1b\[([0-9;:]*)m`)

// colourCodes returns the SGR parameters of s that set a colour.
func colourCodes(s string) []string {
	var out []string
	for _, m := range sgr.FindAllStringSubmatch(s, -1) {
		for _, p := range strings.Split(m[1], ";") {
			if p == "38" || p == "48" || (len(p) == 2 && (p[0] == '3' || p[0] == '4' || p[0] == '9') && p[1] != '8') ||
				(len(p) == 3 && p[:2] == "10") {
				out = append(out, m[1])
				break
			}
		}
	}
	return out
}

// sample renders text in most of the styles.
func sample(st Styles) string {
	var b strings.Builder
	for _, s := range []interface{ Render(...string) string }{st.Brand, st.ActiveTab, st.Heading, st.SelectedRow, st.StatusBar,
		st.Error, st.FilterOn, st.BadgeGood, st.BadgeBad, st.Severity(threats.Critical), st.Severity(threats.Low),
		st.Status(threats.Accepted), st.Help.ShortKey, st.Help.FullKey} {
		b.WriteString(s.Render("x"))
	}
	return b.String()
}

func TestStylesFollowTheColourProfile(t *testing.T) {
	t.Run("NO_COLOR (Ascii): no colour, selection in reverse video", func(t *testing.T) {
		st := DefaultStyles(colorprofile.ASCII)
		if codes := colourCodes(sample(st)); len(codes) > 0 {
			t.Errorf("colour codes with the Ascii profile: %q", codes)
		}
		if !strings.Contains(st.SelectedRow.Render("x"), "\x1b[7m") {
			t.Errorf("the selected row should be in reverse video: %q", st.SelectedRow.Render("x"))
		}
	})
	t.Run("16 colours: the basic palette only", func(t *testing.T) {
		codes := colourCodes(sample(DefaultStyles(colorprofile.ANSI)))
		if len(codes) == 0 {
			t.Fatal("no colours with 16 colours")
		}
		for _, c := range codes {
			if strings.Contains(c, "38;5") || strings.Contains(c, "38;2") || strings.Contains(c, "48;5") || strings.Contains(c, "48;2") {
				t.Errorf("a 256-colour or true-colour code with the 16-colour profile: %q", c)
			}
		}
	})
	t.Run("256 colours", func(t *testing.T) {
		if !strings.Contains(sample(DefaultStyles(colorprofile.ANSI256)), "38;5;") {
			t.Error("the 256-colour profile uses no 256-colour code")
		}
	})
	t.Run("true colour", func(t *testing.T) {
		if !strings.Contains(sample(DefaultStyles(colorprofile.TrueColor)), "38;2;") {
			t.Error("the true-colour profile uses no RGB code")
		}
	})
}
