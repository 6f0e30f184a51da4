package model

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
	corev1 "k8s.io/api/core/v1"

	"github.com/stridemap/stridemap/discover"
	"github.com/stridemap/stridemap/internal/secretvalue"
)

// Setting is one configuration setting a container runs with, so a rule can
// ask what a product is configured to do ("protected-mode" is "no", Grafana's
// auth.anonymous.enabled is "true") and point at the line that says so.
// Settings come from the environment, from command and args flags, and from
// the config files of mounted ConfigMaps in formats stridemap can read.
type Setting struct {
	// Key is the variable ("GF_AUTH_ANONYMOUS_ENABLED"), the flag with its
	// dashes ("--protected-mode"), or the file's key, sections and nesting
	// joined by dots ("auth.anonymous.enabled", "security.authorization").
	Key string `json:"key"`
	// Value is empty when Redacted: a credential's value is never kept.
	Value string `json:"value,omitempty"`
	// Redacted says the setting has a value that is, or may be, a
	// credential (a password, a key, a value from a Secret).
	Redacted bool `json:"redacted,omitempty"`
	// Source is "env", "arg" or "file".
	Source string `json:"source"`
	// File is the config file's name for Source "file": "redis.conf".
	File     string   `json:"file,omitempty"`
	Evidence Evidence `json:"evidence"`
}

// Bounds on what one config file contributes: settings are for rules to
// read, not a copy of every file a workload mounts.
const (
	maxConfigFileBytes   = 64 << 10
	maxSettingsPerFile   = 500
	maxSettingValueBytes = 512
)

// settingsOf lists the settings of each container of t, in the order of
// t.Containers(): environment, then flags, then mounted config files.
func (b *builder) settingsOf(t PodTemplate) [][]Setting {
	var out [][]Setting
	for _, cr := range t.Containers() {
		var s []Setting
		s = append(s, b.envSettings(t, cr)...)
		s = append(s, argSettings(t, cr)...)
		s = append(s, b.fileSettings(t, cr)...)
		out = append(out, s)
	}
	return out
}

func (b *builder) envSettings(t PodTemplate, cr ContainerRef) []Setting {
	var out []Setting
	obj := t.Object
	var ref string // the object's name, made once: each setting's evidence names it
	for i, e := range cr.Container.Env {
		if ref == "" {
			ref = obj.Ref()
		}
		field := fmt.Sprintf("%s.env[%d]", cr.Path, i)
		at := Evidence{File: obj.Location.File, Line: obj.LineOf(field), Object: ref, Field: field}
		switch {
		case e.ValueFrom == nil:
			out = append(out, newSetting(e.Name, e.Value, "env", "", at))
		case e.ValueFrom.SecretKeyRef != nil:
			out = append(out, Setting{Key: e.Name, Redacted: true, Source: "env", Evidence: at})
		case e.ValueFrom.ConfigMapKeyRef != nil:
			ref := e.ValueFrom.ConfigMapKeyRef
			if cm, cmObj := b.configMapAt(obj.Namespace, ref.Name); cm != nil {
				if v, ok := cm.Data[ref.Key]; ok {
					out = append(out, newSetting(e.Name, v, "env", "", configMapKeyEvidence(cmObj, ref.Key)))
				}
			}
		}
	}
	for _, ef := range cr.Container.EnvFrom {
		if ef.ConfigMapRef == nil {
			continue
		}
		cm, cmObj := b.configMapAt(obj.Namespace, ef.ConfigMapRef.Name)
		if cm == nil {
			continue
		}
		for _, key := range sortedKeys(cm.Data) {
			out = append(out, newSetting(ef.Prefix+key, cm.Data[key], "env", "", configMapKeyEvidence(cmObj, key)))
		}
	}
	return out
}

// argSettings reads flags from command and args: "--flag=value",
// "--flag value" and "--flag" alone, also inside a shell's "-c" script.
// $(VAR) is expanded from earlier literal variables, as the kubelet does.
func argSettings(t PodTemplate, cr ContainerRef) []Setting {
	env := map[string]string{}
	for _, e := range cr.Container.Env {
		if e.ValueFrom == nil {
			env[e.Name] = e.Value
		}
	}
	type token struct {
		text  string
		field string
	}
	var tokens []token
	for _, part := range []struct {
		name string
		args []string
	}{{"command", cr.Container.Command}, {"args", cr.Container.Args}} {
		for i, arg := range part.args {
			for _, word := range strings.Fields(arg) {
				tokens = append(tokens, token{strings.Trim(word, `"'`), fmt.Sprintf("%s.%s[%d]", cr.Path, part.name, i)})
			}
		}
	}
	obj := t.Object
	var ref string // the object's name, made once: each setting's evidence names it
	var out []Setting
	for i, tok := range tokens {
		if !strings.HasPrefix(tok.text, "-") || tok.text == "-" || tok.text == "--" {
			continue
		}
		if ref == "" {
			ref = obj.Ref()
		}
		key, value, hasValue := strings.Cut(tok.text, "=")
		if !hasValue && i+1 < len(tokens) && !strings.HasPrefix(tokens[i+1].text, "-") && strings.HasPrefix(key, "--") {
			value = tokens[i+1].text
		}
		at := Evidence{File: obj.Location.File, Line: obj.LineOf(tok.field), Object: ref, Field: tok.field}
		s := newSetting(key, expandVars(value, env), "arg", "", at)
		if strings.Contains(value, "$(") && !s.Redacted && strings.Contains(s.Value, "$(") {
			s.Value, s.Redacted = "", true // from a variable the manifest does not show: a Secret, usually
		}
		out = append(out, s)
	}
	return out
}

// fileSettings parses the config files the container mounts from
// ConfigMaps, by the file's name: INI, YAML, and the "key value" or
// "key = value" lines of .conf and .properties files.
func (b *builder) fileSettings(t PodTemplate, cr ContainerRef) []Setting {
	var out []Setting
	b.eachMountedKey(t, cr, func(cm *corev1.ConfigMap, cmObj *discover.Object, key, name, _ string) {
		out = append(out, parseConfigFile(name, cm.Data[key], configMapKeyEvidence(cmObj, key))...)
	})
	return out
}

// eachMountedKey calls fn for every key of a ConfigMap in the input that
// the container sees as a file: name is the file's name, at its path.
func (b *builder) eachMountedKey(t PodTemplate, cr ContainerRef, fn func(cm *corev1.ConfigMap, cmObj *discover.Object, key, name, at string)) {
	for _, m := range cr.Container.VolumeMounts {
		for _, v := range t.Spec.Volumes {
			if v.Name != m.Name {
				continue
			}
			for _, src := range configMapSources(v) {
				cm, cmObj := b.configMapAt(t.Object.Namespace, src.Name)
				if cm == nil {
					continue
				}
				for _, key := range sortedKeys(cm.Data) {
					name, ok := mountedFileName(key, src.Items, m.SubPath, m.MountPath)
					if !ok {
						continue
					}
					at := path.Join(m.MountPath, keyPath(key, src.Items))
					if m.SubPath != "" {
						at = path.Clean(m.MountPath)
					}
					fn(cm, cmObj, key, name, at)
				}
			}
		}
	}
}

// configMapSources are the ConfigMaps a volume projects.
func configMapSources(v corev1.Volume) []corev1.ConfigMapProjection {
	switch {
	case v.ConfigMap != nil:
		return []corev1.ConfigMapProjection{{LocalObjectReference: v.ConfigMap.LocalObjectReference, Items: v.ConfigMap.Items}}
	case v.Projected != nil:
		var out []corev1.ConfigMapProjection
		for _, s := range v.Projected.Sources {
			if s.ConfigMap != nil {
				out = append(out, *s.ConfigMap)
			}
		}
		return out
	}
	return nil
}

// mountedFileName is the name under which a ConfigMap key appears in the
// container, or false when items or a subPath leave it out.
func mountedFileName(key string, items []corev1.KeyToPath, subPath, mountPath string) (string, bool) {
	name := key
	if len(items) > 0 {
		found := false
		for _, it := range items {
			if it.Key == key {
				name, found = it.Path, true
				break
			}
		}
		if !found {
			return "", false
		}
	}
	if subPath != "" {
		if path.Clean(subPath) != path.Clean(name) {
			return "", false
		}
		return path.Base(mountPath), true
	}
	return path.Base(name), true
}

func (b *builder) configMapAt(namespace, name string) (*corev1.ConfigMap, *discover.Object) {
	obj := b.configMapObjects[nsName{namespace, name}]
	if obj == nil {
		return nil, nil
	}
	return obj.Typed.(*corev1.ConfigMap), obj
}

func configMapKeyEvidence(obj *discover.Object, key string) Evidence {
	field := discover.PathKey("data", key)
	return Evidence{File: obj.Location.File, Line: obj.LineOf(field), Object: obj.Ref(), Field: field}
}

// newSetting keeps a value unless it is, or embeds, a credential.
func newSetting(key, value, source, file string, at Evidence) Setting {
	s := Setting{Key: key, Value: strings.TrimSpace(value), Source: source, File: file, Evidence: at}
	if s.Value != "" && isCredentialSetting(key, s.Value) {
		s.Value, s.Redacted = "", true
	}
	s.Value = maskACLPasswords(s.Value)
	if len(s.Value) > maxSettingValueBytes {
		s.Value = s.Value[:maxSettingValueBytes]
	}
	return s
}

// isCredentialSetting: the key names a credential (its last dotted part,
// without dashes: "requirepass", "security.admin_password"), or the value
// embeds one ("sasl.jaas.config=… password=…", a URL with a password).
func isCredentialSetting(key, value string) bool {
	last := strings.TrimLeft(key, "-")
	if i := strings.LastIndexByte(last, '.'); i >= 0 {
		last = last[i+1:]
	}
	lower := strings.ToLower(value)
	if strings.HasSuffix(strings.ToLower(last), "auth") && !isSwitch(lower) {
		return true // Redis's masterauth, a password after all
	}
	return IsSensitiveName(last) || IsSensitiveName(key) || HasPassword(value) ||
		strings.Contains(lower, "password") || strings.Contains(lower, "secret") || strings.Contains(lower, "private key")
}

// parseConfigFile reads the settings of one config file, chosen by its
// name; a format it does not know gives none. at is the line of the
// ConfigMap key; a multi-line value is a block scalar whose text starts on
// the next line, so line i of the file is at.Line+1+i.
func parseConfigFile(name, content string, at Evidence) []Setting {
	if len(content) > maxConfigFileBytes {
		return nil
	}
	lineAt := func(i int) Evidence {
		ev := at
		if strings.Contains(content, "\n") && at.Line > 0 {
			ev.Line = at.Line + 1 + i
		}
		ev.Detail = fmt.Sprintf("%s line %d", name, i+1)
		return ev
	}
	var out []Setting
	add := func(key, value string, line int) bool {
		out = append(out, newSetting(key, value, "file", name, lineAt(line)))
		return len(out) < maxSettingsPerFile
	}
	ext := strings.ToLower(path.Ext(name))
	if yamlConfigFiles[strings.ToLower(name)] {
		ext = ".yaml"
	}
	switch ext {
	case ".ini":
		parseINI(content, add)
	case ".yml", ".yaml":
		parseYAMLSettings(content, add)
	case ".conf", ".cnf", ".cfg", ".properties":
		parseKeyValueLines(content, add)
	}
	return out
}

// yamlConfigFiles are well-known config files in YAML whose names do not
// say so.
var yamlConfigFiles = map[string]bool{"mongod.conf": true, "mongos.conf": true}

// parseINI reads "[section]" headers and "key = value" lines; keys are
// "section.key" (Grafana's grafana.ini, php.ini, my.cnf-like files).
func parseINI(content string, add func(key, value string, line int) bool) {
	section := ""
	for i, line := range strings.Split(content, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			section = strings.TrimSpace(line[1 : len(line)-1])
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		key = strings.TrimSpace(key)
		if section != "" {
			key = section + "." + key
		}
		if !add(key, strings.Trim(strings.TrimSpace(value), `"`), i) {
			return
		}
	}
}

// parseKeyValueLines reads "key = value", "key=value", "key: value" and
// "key value" lines (redis.conf, postgresql.conf, pg_hba.conf,
// rabbitmq.conf, server.properties, nginx's "directive args;").
func parseKeyValueLines(content string, add func(key, value string, line int) bool) {
	for i, line := range strings.Split(content, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == ';' || strings.HasPrefix(line, "//") || line == "}" {
			continue
		}
		var key, value string
		if k, v, ok := strings.Cut(line, "="); ok && !strings.ContainsAny(strings.TrimSpace(k), " \t") {
			key, value = k, v
		} else if k, v, ok := strings.Cut(line, ": "); ok && !strings.ContainsAny(strings.TrimSpace(k), " \t") {
			key, value = k, v
		} else {
			fields := strings.Fields(line)
			key, value = fields[0], strings.Join(fields[1:], " ")
		}
		value = strings.TrimSpace(value)
		if c := strings.Index(value, " #"); c >= 0 {
			value = strings.TrimSpace(value[:c])
		}
		value = strings.TrimSuffix(value, ";")
		if !add(strings.TrimSpace(key), strings.Trim(strings.TrimSpace(value), `"'`), i) {
			return
		}
	}
}

// parseYAMLSettings flattens YAML documents: nested keys are joined by
// dots (so "xpack: {security: {enabled: false}}" and
// "xpack.security.enabled: false" read the same), and each item of a
// sequence is a setting of the sequence's key.
func parseYAMLSettings(content string, add func(key, value string, line int) bool) {
	dec := yaml.NewDecoder(strings.NewReader(content))
	more := true
	var walk func(prefix string, n *yaml.Node)
	walk = func(prefix string, n *yaml.Node) {
		if !more {
			return
		}
		switch n.Kind {
		case yaml.DocumentNode, yaml.SequenceNode:
			for _, c := range n.Content {
				walk(prefix, c)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				key := n.Content[i].Value
				if prefix != "" {
					key = prefix + "." + key
				}
				walk(key, n.Content[i+1])
			}
		case yaml.ScalarNode:
			if prefix != "" {
				more = add(prefix, n.Value, n.Line-1)
			}
		}
	}
	for more {
		var doc yaml.Node
		if err := dec.Decode(&doc); err != nil {
			return // the end, or text that is no YAML: what was read stands
		}
		walk("", &doc)
	}
}

// isSwitch recognises the values of on/off settings.
func isSwitch(lower string) bool {
	switch lower {
	case "true", "false", "yes", "no", "on", "off", "enabled", "disabled", "1", "0":
		return true
	}
	return false
}

// maskACLPasswords hides the passwords of ACL rules (Redis's
// "user app on >s3cret ~* +@all", or a "#<hash>"), keeping the rest of the
// rule readable.
func maskACLPasswords(value string) string {
	if !strings.ContainsAny(value, ">#") {
		return value
	}
	words := strings.Fields(value)
	for i, w := range words {
		if len(w) > 1 && (w[0] == '>' || (w[0] == '#' && len(w) == 65)) {
			words[i] = w[:1] + "(redacted)"
		}
	}
	return strings.Join(words, " ")
}

// unreadConfigFiles lists the config files the container's command line
// names that the input does not hold: written by an init container, mounted
// from a Secret or an emptyDir, or baked into the image. Their settings are
// unknown, so a rule must not claim a setting is absent.
func (b *builder) unreadConfigFiles(t PodTemplate, cr ContainerRef) []string {
	var held map[string]bool // read only for a container that names a config file
	var out []string
	for _, arg := range append(append([]string{}, cr.Container.Command...), cr.Container.Args...) {
		for _, word := range strings.Fields(arg) {
			word = strings.Trim(word, `"'`)
			if _, value, ok := strings.Cut(word, "="); ok && strings.HasPrefix(word, "-") {
				word = value
			}
			if !strings.HasPrefix(word, "/") || !secretvalue.IsConfigFileName(word) {
				continue
			}
			if held == nil {
				held = b.mountedConfigMapPaths(t, cr)
			}
			if p := path.Clean(word); !held[p] && !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	return out
}

// mountedConfigMapPaths are the paths at which the container sees the keys
// of ConfigMaps the input holds.
func (b *builder) mountedConfigMapPaths(t PodTemplate, cr ContainerRef) map[string]bool {
	held := map[string]bool{}
	b.eachMountedKey(t, cr, func(_ *corev1.ConfigMap, _ *discover.Object, _, _, at string) {
		held[at] = true
	})
	return held
}

// keyPath is the path a ConfigMap key takes inside its volume.
func keyPath(key string, items []corev1.KeyToPath) string {
	for _, it := range items {
		if it.Key == key {
			return it.Path
		}
	}
	return key
}
