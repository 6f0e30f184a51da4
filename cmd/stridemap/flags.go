package main

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode"
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

// sizeFlag is a flag of a size in bytes, given as a number of bytes or
// with a unit: 400MB, 64MiB, 1.5GiB. SI units (kB, MB, GB) are powers of
// 1000 and IEC units (KiB, MiB, GiB) of 1024, as ls and df read them.
type sizeFlag int64

var sizeUnits = map[string]float64{
	"": 1, "b": 1,
	"k": 1e3, "kb": 1e3, "m": 1e6, "mb": 1e6, "g": 1e9, "gb": 1e9,
	"ki": 1 << 10, "kib": 1 << 10, "mi": 1 << 20, "mib": 1 << 20, "gi": 1 << 30, "gib": 1 << 30,
}

func (s *sizeFlag) Set(value string) error {
	number, unit := strings.TrimSpace(value), ""
	if i := strings.IndexFunc(number, unicode.IsLetter); i >= 0 {
		number, unit = strings.TrimSpace(number[:i]), number[i:]
	}
	factor, known := sizeUnits[strings.ToLower(unit)]
	n, err := strconv.ParseFloat(number, 64)
	size := n * factor
	if !known || err != nil || !(size >= 1) || size >= math.MaxInt64 {
		return fmt.Errorf("%q is not a size: give bytes, or a number with kB, MB, GB, KiB, MiB or GiB (400MB, 1GiB)", value)
	}
	*s = sizeFlag(size)
	return nil
}

// String is the size in the largest unit that divides it, or bytes.
func (s *sizeFlag) String() string {
	for _, u := range []struct {
		name string
		size int64
	}{{"GiB", 1 << 30}, {"GB", 1e9}, {"MiB", 1 << 20}, {"MB", 1e6}, {"KiB", 1 << 10}, {"kB", 1e3}} {
		if *s > 0 && int64(*s)%u.size == 0 {
			return strconv.FormatInt(int64(*s)/u.size, 10) + u.name
		}
	}
	return strconv.FormatInt(int64(*s), 10)
}

func (*sizeFlag) Type() string { return "size" }
