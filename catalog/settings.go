package catalog

import (
	"reflect"
	"strconv"
	"strings"

	"cel.dev/cel-go/cel"
	celtypes "cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"

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
	return cel.Lib(settingLib{
		cel.Function("lookup", cel.MemberOverload("settings_lookup_keys",
			[]*cel.Type{cel.ListType(settingType), cel.ListType(cel.StringType)}, settingType,
			cel.BinaryBinding(func(list, keys ref.Val) ref.Val {
				return adapter().NativeToValue(lookupSetting(list, keys))
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

func lookupSetting(list, keys ref.Val) model.Setting {
	settings, err := list.ConvertToNative(reflect.TypeFor[[]model.Setting]())
	if err != nil {
		return model.Setting{}
	}
	names, err := keys.ConvertToNative(reflectStringSlice)
	if err != nil {
		return model.Setting{}
	}
	all := settings.([]model.Setting)
	for _, key := range names.([]string) {
		for i := len(all) - 1; i >= 0; i-- {
			if all[i].Key == key {
				return all[i]
			}
		}
	}
	return model.Setting{}
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
