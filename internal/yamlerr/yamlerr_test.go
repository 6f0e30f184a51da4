package yamlerr

import (
	"errors"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestOneLine(t *testing.T) {
	var v struct{ Name string }
	dec := yaml.NewDecoder(strings.NewReader("name: a\ncolour: red\nsize: 3\n"))
	dec.KnownFields(true)
	err := OneLine(dec.Decode(&v))
	want := "yaml: line 2: unknown field colour; line 3: unknown field size"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %q", err, want)
	}
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		t.Error("the *yaml.TypeError is no longer reachable")
	}
	if got := OneLine(errors.New("a\n  b\r\nc")).Error(); got != "a; b; c" {
		t.Errorf("flattened to %q", got)
	}
	if OneLine(nil) != nil {
		t.Error("OneLine(nil) is not nil")
	}
}
