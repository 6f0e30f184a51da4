package threats

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	"github.com/stridemap/stridemap/model"
)

// fill sets every field v holds, recursively, to a value json.Marshal
// writes: strings to text that needs escaping, numbers to non-zero,
// slices to two elements. A field added to stored or model.Evidence is
// filled too, so appendStored cannot leave it out unnoticed.
func fill(v reflect.Value, n *int) {
	*n++
	switch v.Kind() {
	case reflect.String:
		v.SetString(fmt.Sprintf("<%d> & \"q\" \u2028 é \xff", *n))
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(*n))
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		for i := range 2 {
			fill(v.Index(i), n)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), n)
			}
		}
	default:
		panic("fill: say how to fill a " + v.Kind().String())
	}
}

// TestAppendStoredIsMarshal: appendStored writes what json.Marshal writes,
// for every field filled, and for what is left empty or nil.
func TestAppendStoredIsMarshal(t *testing.T) {
	var full stored
	n := 0
	fill(reflect.ValueOf(&full).Elem(), &n)
	cases := map[string]stored{
		"every field":         full,
		"zero":                {},
		"empty lists":         {Raised: []string{}, Evidence: []model.Evidence{}},
		"evidence, one field": {Evidence: []model.Evidence{{Line: 7}, {Detail: "d"}, {}}},
	}
	for name, s := range cases {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendStored([]byte("prefix"), &s); string(got) != "prefix"+string(want) {
			t.Errorf("%s:\n got %s\nwant prefix%s", name, got, want)
		}
	}
}
