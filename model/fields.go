package model

// Accessors for unstructured objects (CRDs), which arrive as decoded JSON.
// They return zero values for anything missing or of the wrong type, so a
// malformed CRD yields fewer edges, never a panic.

func field(m map[string]any, path ...string) any {
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

func str(m map[string]any, path ...string) string {
	s, _ := field(m, path...).(string)
	return s
}

func list(m map[string]any, path ...string) []any {
	l, _ := field(m, path...).([]any)
	return l
}

func mapAt(m map[string]any, path ...string) map[string]any {
	mm, _ := field(m, path...).(map[string]any)
	return mm
}

// number reads a JSON number as int32 ports are; 0 when absent or out of range.
func number(m map[string]any, path ...string) int32 {
	switch v := field(m, path...).(type) {
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

func stringMap(m map[string]any, path ...string) map[string]string {
	mm := mapAt(m, path...)
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

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}
