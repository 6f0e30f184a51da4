package catalog

import (
	"reflect"
	"strconv"
	"strings"
	"sync"

	"cel.dev/cel-go/cel"
	celtypes "cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"

	"github.com/stridemap/stridemap/model"
)

// settingFunctions are the CEL functions rules about configuration use:
//
//	settings.lookup(["GF_AUTH_ANONYMOUS_ENABLED", "auth.anonymous.enabled"])
//
// is the setting of the first key that is set, in the order given (so an
// environment variable that overrides a config file is named first), or a
// setting with an empty key when none is; its last occurrence wins, as it
// does for the kubelet and for config files.
//
//	located(evidence, "text")
//
// is a detail of a rule's evidence that points at evidence's file and line
// instead of the element's first line: the line of the setting it is about.
func settingFunctions(adapter func() celtypes.Adapter) cel.EnvOption {
	settingType := cel.ObjectType("model.Setting")
	// unset is what lookup returns when no key is set, made once: config
	// rules look up keys in every container of every workload, and almost
	// always find none.
	unset := sync.OnceValue(func() ref.Val { return adapter().NativeToValue(model.Setting{}) })
	return cel.Lib(settingLib{
		cel.Function("lookup", cel.MemberOverload("settings_lookup_keys",
			[]*cel.Type{cel.ListType(settingType), cel.ListType(cel.StringType)}, settingType,
			cel.BinaryBinding(func(list, keys ref.Val) ref.Val {
				found, ok := lookupSetting(list, keys)
				if !ok {
					return unset()
				}
				return adapter().NativeToValue(found)
			}))),
		cel.Function("located", cel.Overload("located_evidence_string",
			[]*cel.Type{cel.ObjectType("model.Evidence"), cel.StringType}, cel.StringType,
			cel.BinaryBinding(func(ev, text ref.Val) ref.Val {
				native, err := ev.ConvertToNative(reflect.TypeFor[model.Evidence]())
				if err != nil {
					return celtypes.WrapErr(err)
				}
				return celtypes.String(Located(native.(model.Evidence), string(text.(celtypes.String))))
			}))),
	})
}

type settingLib []cel.EnvOption

func (l settingLib) CompileOptions() []cel.EnvOption   { return l }
func (settingLib) ProgramOptions() []cel.ProgramOption { return nil }

func lookupSetting(list, keys ref.Val) (model.Setting, bool) {
	settings, err := list.ConvertToNative(reflect.TypeFor[[]model.Setting]())
	if err != nil {
		return model.Setting{}, false
	}
	all := settings.([]model.Setting)
	if len(all) == 0 {
		return model.Setting{}, false
	}
	// The keys are a list literal in every rule; reading its elements in
	// place spares converting it to a new []string at every call.
	lister, ok := keys.(traits.Lister)
	if !ok {
		return model.Setting{}, false
	}
	n, _ := lister.Size().(celtypes.Int)
	for k := range int(n) {
		key, ok := lister.Get(celtypes.Int(k)).(celtypes.String)
		if !ok {
			continue
		}
		if found, ok := lastSetting(all, string(key)); ok {
			return found, true
		}
	}
	return model.Setting{}, false
}

// findSetting is lookup for the native checks (nativeOf).
func findSetting(all []model.Setting, keys []string) (model.Setting, bool) {
	for _, key := range keys {
		if found, ok := lastSetting(all, key); ok {
			return found, true
		}
	}
	return model.Setting{}, false
}

// lastSetting is the last occurrence of key, which wins.
func lastSetting(all []model.Setting, key string) (model.Setting, bool) {
	for i := len(all) - 1; i >= 0; i-- {
		if all[i].Key == key {
			return all[i], true
		}
	}
	return model.Setting{}, false
}

// locatedMark starts a detail that carries its own location, fields
// separated by NUL, which no file path, object name or rule text holds.
const locatedMark = "\x00at\x00"

// Located encodes a detail with the evidence it is about; SplitLocated
// decodes it.
func Located(ev model.Evidence, text string) string {
	return locatedMark + strings.Join([]string{ev.File, strconv.Itoa(ev.Line), ev.Version, ev.Object, ev.Field, text}, "\x00")
}

// SplitLocated returns the evidence a detail made by Located points at,
// with the text as its Detail; ok is false for a plain detail.
func SplitLocated(detail string) (ev model.Evidence, ok bool) {
	rest, ok := strings.CutPrefix(detail, locatedMark)
	if !ok {
		return model.Evidence{}, false
	}
	parts := strings.SplitN(rest, "\x00", 6)
	if len(parts) != 6 {
		return model.Evidence{}, false
	}
	line, _ := strconv.Atoi(parts[1])
	return model.Evidence{File: parts[0], Line: line, Version: parts[2], Object: parts[3], Field: parts[4], Detail: parts[5]}, true
}
