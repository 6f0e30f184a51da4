package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// The functions here walk JSON the store wrote without decoding what
// they do not need: they find where each member or element starts and
// ends. They check the structure they walk, not the values they skip,
// which their callers decode.

var errJSONEnd = errors.New("unexpected end of JSON")

// eachMember calls fn with each key and raw value of the JSON object
// data, in order.
func eachMember(data []byte, fn func(key string, value []byte) error) error {
	return walk(data, '{', '}', func(b []byte, i int) (int, error) {
		if i >= len(b) || b[i] != '"' {
			return 0, syntaxError(b, i, "a key")
		}
		end, err := stringEnd(b, i)
		if err != nil {
			return 0, err
		}
		var key string
		if err := decodeString(b[i:end], &key); err != nil {
			return 0, err
		}
		if i = skipSpace(b, end); i >= len(b) || b[i] != ':' {
			return 0, syntaxError(b, i, "':'")
		}
		i = skipSpace(b, i+1)
		if end, err = valueEnd(b, i); err != nil {
			return 0, err
		}
		return end, fn(key, b[i:end])
	})
}

// eachElement calls fn with each raw element of the JSON array data.
func eachElement(data []byte, fn func(element []byte) error) error {
	return walk(data, '[', ']', func(b []byte, i int) (int, error) {
		end, err := valueEnd(b, i)
		if err != nil {
			return 0, err
		}
		return end, fn(b[i:end])
	})
}

// walk reads a JSON object or array: item reads one member or element
// starting at b[i] and returns where it ends.
func walk(b []byte, open, close byte, item func(b []byte, i int) (int, error)) error {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != open {
		return syntaxError(b, i, fmt.Sprintf("'%c'", open))
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == close {
		return trailing(b, i+1)
	}
	for {
		end, err := item(b, i)
		if err != nil {
			return err
		}
		i = skipSpace(b, end)
		switch {
		case i >= len(b):
			return errJSONEnd
		case b[i] == ',':
			i = skipSpace(b, i+1)
		case b[i] == close:
			return trailing(b, i+1)
		default:
			return syntaxError(b, i, fmt.Sprintf("',' or '%c'", close))
		}
	}
}

// trailing fails when anything but space follows a value that ends at i.
func trailing(b []byte, i int) error {
	if i = skipSpace(b, i); i < len(b) {
		return syntaxError(b, i, "the end")
	}
	return nil
}

// valueEnd returns where the JSON value that starts at b[i] ends.
func valueEnd(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, errJSONEnd
	}
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		var stack [16]byte
		nesting := stack[:0] // the closing bracket each open one expects
		for i < len(b) {
			switch c := b[i]; c {
			case '"':
				end, err := stringEnd(b, i)
				if err != nil {
					return 0, err
				}
				i = end
				continue
			case '{', '[':
				nesting = append(nesting, c+2) // '}' and ']' follow their openers by two
			case '}', ']':
				if nesting[len(nesting)-1] != c {
					return 0, syntaxError(b, i, fmt.Sprintf("'%c'", nesting[len(nesting)-1]))
				}
				if nesting = nesting[:len(nesting)-1]; len(nesting) == 0 {
					return i + 1, nil
				}
			}
			i++
		}
		return 0, errJSONEnd
	case ',', ':', '}', ']':
		return 0, syntaxError(b, i, "a value")
	}
	end := i // a number, true, false or null: up to the next delimiter
	for end < len(b) && strings.IndexByte(" \t\r\n,:{}[]\"", b[end]) < 0 {
		end++
	}
	return end, nil
}

// stringEnd returns where the JSON string that starts at b[i] ends: after
// the first quote that an even number of backslashes precede.
func stringEnd(b []byte, i int) (int, error) {
	for i++; ; i++ {
		q := bytes.IndexByte(b[i:], '"')
		if q < 0 {
			return 0, errJSONEnd
		}
		i += q
		escapes := 0
		for j := i - 1; b[j] == '\\'; j-- {
			escapes++
		}
		if escapes%2 == 0 {
			return i + 1, nil
		}
	}
}

// decodeString decodes the raw JSON string value into *s, as
// encoding/json does: a string without escapes, control characters or
// invalid UTF-8, as the store writes nearly all, is taken as it is.
func decodeString(value []byte, s *string) error {
	if len(value) >= 2 && value[0] == '"' && value[len(value)-1] == '"' {
		text := value[1 : len(value)-1]
		if plain(text) {
			*s = string(text)
			return nil
		}
	}
	return json.Unmarshal(value, s)
}

// plain says text needs no decoding as a JSON string's content.
func plain(text []byte) bool {
	for _, c := range text {
		if c < 0x20 || c == '\\' || c == '"' || c >= utf8.RuneSelf {
			return utf8.Valid(text) && bytes.IndexFunc(text, func(r rune) bool { return r < 0x20 || r == '\\' || r == '"' }) < 0
		}
	}
	return true
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

func syntaxError(b []byte, i int, want string) error {
	if i >= len(b) {
		return errJSONEnd
	}
	return fmt.Errorf("invalid JSON at offset %d: want %s, found %q", i, want, b[i])
}
