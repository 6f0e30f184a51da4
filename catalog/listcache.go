package catalog

import (
	"reflect"

	"cel.dev/cel-go/cel"
	celtypes "cel.dev/cel-go/common/types"
)

// contextLists names the Context fields that are lists of strings, as
// rules name them, with each one's slot in Context.lists.
var contextLists = func() map[string]int {
	slots := map[string]int{}
	t := reflect.TypeFor[Context]()
	for i := range t.NumField() {
		f := t.Field(i)
		if f.IsExported() && f.Type == reflectStringSlice {
			slots[celFieldName(f)] = len(slots)
		}
	}
	if len(slots) != len(Context{}.lists) {
		panic("catalog: Context.lists needs one slot per list of strings")
	}
	return slots
}()

// contextListCache makes the rules evaluated on one element share the CEL
// lists of its Context. cel-go's native types wrap a []string field in a
// new CEL list at every read, and the catalog's rules read ctx.controls
// and its like some hundred times per element: now the first read of each
// list keeps its CEL value in the Context, and later ones return it.
func contextListCache() cel.EnvOption {
	return func(env *cel.Env) (*cel.Env, error) {
		return cel.CustomTypeProvider(listCachingProvider{env.CELTypeProvider()})(env)
	}
}

// listCachingProvider is the environment's type provider, but for the list
// fields of Context, whose values it caches in the Context read.
type listCachingProvider struct {
	celtypes.Provider
}

func (p listCachingProvider) FindStructFieldType(structType, fieldName string) (*celtypes.FieldType, bool) {
	field, ok := p.Provider.FindStructFieldType(structType, fieldName)
	slot, listed := contextLists[fieldName]
	if !ok || !listed || structType != "catalog.Context" {
		return field, ok
	}
	get := field.GetFrom
	cached := *field
	cached.GetFrom = func(obj any) (any, error) {
		c, isContext := obj.(*Context)
		if !isContext {
			return get(obj)
		}
		if v := c.lists[slot]; v != nil {
			return v, nil
		}
		v, err := get(obj)
		if err == nil {
			c.lists[slot] = v
		}
		return v, err
	}
	return &cached, true
}
