// Package fields reads unstructured objects (CRDs), which arrive as decoded
// JSON. Every accessor returns the zero value for anything missing or of
// the wrong type, so a malformed CRD yields fewer edges and controls, never
// a panic.
package fields

import "strconv"

// At returns the value at path, or nil.
func At(m map[string]any, path ...string) any {
	var cur any = m
	for _, p := range path {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[p]
	}
	return cur
}

// String returns the string at path, or "".
func String(m map[string]any, path ...string) string {
	s, _ := At(m, path...).(string)
	return s
}

// List returns the list at path, or nil.
func List(m map[string]any, path ...string) []any {
	l, _ := At(m, path...).([]any)
	return l
}

// Map returns the object at path, or nil.
func Map(m map[string]any, path ...string) map[string]any {
	mm, _ := At(m, path...).(map[string]any)
	return mm
}

// Number reads a JSON number as int32 ports are; 0 when absent or out of range.
func Number(m map[string]any, path ...string) int32 {
	switch v := At(m, path...).(type) {
	case float64:
		if v >= 0 && v <= 65535 && v == float64(int32(v)) {
			return int32(v)
		}
	case int64:
		if v >= 0 && v <= 65535 {
			return int32(v)
		}
	case int:
		if v >= 0 && v <= 65535 {
			return int32(v)
		}
	}
	return 0
}

// StringMap returns the string values of the object at path (labels,
// annotations, selectors), or nil when it is empty.
func StringMap(m map[string]any, path ...string) map[string]string {
	mm := Map(m, path...)
	if len(mm) == 0 {
		return nil
	}
	out := make(map[string]string, len(mm))
	for k, v := range mm {
		if s, ok := v.(string); ok {
			out[k] = s
		}
	}
	return out
}

// AsMap returns v as an object, or nil: for the elements of a List.
func AsMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// ParsePort reads a port written as text ("8080"); ok is false for
// anything but 1–65535.
func ParsePort(s string) (port int32, ok bool) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 {
		return 0, false
	}
	return int32(n), true
}
