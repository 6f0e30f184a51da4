package main

import (
	"fmt"
	"slices"
	"strings"
)

// choice checks an enum flag's value and returns it in lower case, so
// that --format JSON works as --format json does.
func choice(flag, value string, allowed ...string) (string, error) {
	v := strings.ToLower(value)
	if slices.Contains(allowed, v) {
		return v, nil
	}
	return "", fmt.Errorf("unknown %s %q: use %s", flag, value, orList(allowed))
}

// orList renders "a, b or c".
func orList(words []string) string { return wordList(words, "or") }

// wordList renders "a, b" + conj + " c".
func wordList(words []string, conj string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " " + conj + " " + words[len(words)-1]
}
