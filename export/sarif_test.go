package export_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stridemap/stridemap/export"
	"github.com/stridemap/stridemap/model"
	"github.com/stridemap/stridemap/threats"
)

// The SARIF 2.1.0 JSON schema (OASIS, sarif-schema-2.1.0.json) cannot be
// downloaded here, so sarifValidator checks by hand the part of it that
// stridemap emits: for each object type we write, the properties the
// schema requires, the type of every property we use, the enumerations
// (level, suppression kind and status), the numeric minimums (startLine ≥
// 1, ruleIndex and location id ≥ -1), the uniqueness of rule IDs and tags,
// and — because most SARIF objects forbid additional properties — that
// every property name is one the schema defines for that object. It is a
// hand-checked subset, not a general JSON Schema validator; GitHub's own
// rules (security-severity a number string from 0 to 10, ruleIndex
// matching ruleId) are checked too.
type sarifValidator struct {
	t    *testing.T
	errs []string
}

func (v *sarifValidator) fail(path, format string, args ...any) {
	v.errs = append(v.errs, path+": "+fmt.Sprintf(format, args...))
}

// object checks that x is an object with the required properties and no
// property outside allowed, and returns it.
func (v *sarifValidator) object(path string, x any, required, allowed []string) map[string]any {
	m, ok := x.(map[string]any)
	if !ok {
		v.fail(path, "want an object, got %T", x)
		return nil
	}
	for _, r := range required {
		if _, ok := m[r]; !ok {
			v.fail(path, "missing required property %q", r)
		}
	}
	for k := range m {
		if !slices.Contains(allowed, k) && !slices.Contains(required, k) {
			v.fail(path, "property %q is not defined by SARIF 2.1.0 for this object", k)
		}
	}
	return m
}

func (v *sarifValidator) str(path string, x any) string {
	s, ok := x.(string)
	if !ok {
		v.fail(path, "want a string, got %T", x)
	}
	return s
}

func (v *sarifValidator) integer(path string, x any, min int) int {
	f, ok := x.(float64)
	if !ok || f != float64(int(f)) {
		v.fail(path, "want an integer, got %v", x)
		return 0
	}
	if int(f) < min {
		v.fail(path, "%d is below the minimum %d", int(f), min)
	}
	return int(f)
}

func (v *sarifValidator) array(path string, x any) []any {
	a, ok := x.([]any)
	if !ok {
		v.fail(path, "want an array, got %T", x)
	}
	return a
}

func (v *sarifValidator) enum(path string, x any, values ...string) {
	if s := v.str(path, x); !slices.Contains(values, s) {
		v.fail(path, "%q is not one of %v", s, values)
	}
}

func (v *sarifValidator) uri(path string, x any) {
	s := v.str(path, x)
	if _, err := url.Parse(s); err != nil || s == "" {
		v.fail(path, "%q is not a URI reference", s)
	}
}

// message is SARIF's message and multiformatMessageString: text required
// (a message may have an id instead; we always write text).
func (v *sarifValidator) message(path string, x any) {
	m := v.object(path, x, []string{"text"}, []string{"markdown", "id", "arguments", "properties"})
	if m == nil {
		return
	}
	v.str(path+".text", m["text"])
	if md, ok := m["markdown"]; ok {
		v.str(path+".markdown", md)
	}
}

func (v *sarifValidator) properties(path string, x any) map[string]any {
	m, ok := x.(map[string]any)
	if !ok {
		v.fail(path, "a property bag must be an object")
		return nil
	}
	if tags, ok := m["tags"]; ok {
		var seen []string
		for i, tag := range v.array(path+".tags", tags) {
			s := v.str(fmt.Sprintf("%s.tags[%d]", path, i), tag)
			if slices.Contains(seen, s) {
				v.fail(path+".tags", "tags must be unique: %q twice", s)
			}
			seen = append(seen, s)
		}
	}
	return m
}

var (
	sarifRunProps = []string{"tool", "invocations", "conversion", "language", "versionControlProvenance", "originalUriBaseIds",
		"artifacts", "logicalLocations", "graphs", "results", "automationDetails", "runAggregates", "baselineGuid",
		"redactionTokens", "defaultEncoding", "defaultSourceLanguage", "newlineSequences", "columnKind",
		"externalPropertyFileReferences", "threadFlowLocations", "taxonomies", "addresses", "translations", "policies",
		"webRequests", "webResponses", "specialLocations", "properties"}
	sarifToolComponentProps = []string{"guid", "name", "organization", "product", "productSuite", "shortDescription",
		"fullDescription", "fullName", "version", "semanticVersion", "dottedQuadFileVersion", "releaseDateUtc",
		"downloadUri", "informationUri", "globalMessageStrings", "notifications", "rules", "taxa", "locations", "language",
		"contents", "isComprehensive", "localizedDataSemanticVersion", "minimumRequiredLocalizedDataSemanticVersion",
		"associatedComponent", "translationMetadata", "supportedTaxonomies", "properties"}
	sarifDescriptorProps = []string{"id", "deprecatedIds", "guid", "deprecatedGuids", "name", "deprecatedNames",
		"shortDescription", "fullDescription", "messageStrings", "defaultConfiguration", "helpUri", "help",
		"relationships", "properties"}
	sarifResultProps = []string{"ruleId", "ruleIndex", "rule", "kind", "level", "message", "analysisTarget", "locations",
		"guid", "correlationGuid", "occurrenceCount", "partialFingerprints", "fingerprints", "stacks", "codeFlows",
		"graphs", "graphTraversals", "relatedLocations", "suppressions", "baselineState", "rank", "attachments",
		"hostedViewerUri", "workItemUris", "provenance", "fixes", "taxa", "webRequest", "webResponse", "properties"}
	sarifLocationProps         = []string{"id", "physicalLocation", "logicalLocations", "message", "annotations", "relationships", "properties"}
	sarifPhysicalLocationProps = []string{"address", "artifactLocation", "region", "contextRegion", "properties"}
	sarifArtifactLocationProps = []string{"uri", "uriBaseId", "index", "description", "properties"}
	sarifRegionProps           = []string{"startLine", "startColumn", "endLine", "endColumn", "charOffset", "charLength",
		"byteOffset", "byteLength", "snippet", "message", "sourceLanguage", "properties"}
	sarifLogicalLocationProps = []string{"name", "index", "fullyQualifiedName", "decoratedName", "parentIndex", "kind", "properties"}
	sarifInvocationProps      = []string{"commandLine", "arguments", "responseFiles", "startTimeUtc", "endTimeUtc", "exitCode",
		"ruleConfigurationOverrides", "notificationConfigurationOverrides", "toolExecutionNotifications", "toolConfigurationNotifications",
		"exitCodeDescription", "exitSignalName", "exitSignalNumber", "processStartFailureMessage", "executionSuccessful", "machine",
		"account", "processId", "executableLocation", "workingDirectory", "environmentVariables", "stdin", "stdout", "stderr",
		"stdoutStderr", "properties"}
	sarifNotificationProps  = []string{"locations", "message", "level", "threadId", "timeUtc", "exception", "descriptor", "associatedRule", "properties"}
	sarifSuppressionProps   = []string{"guid", "location", "justification", "properties"}
	sarifConfigurationProps = []string{"enabled", "level", "rank", "parameters", "properties"}
	sarifLevels             = []string{"none", "note", "warning", "error"}
)

func (v *sarifValidator) validate(doc []byte) {
	var root any
	if err := json.Unmarshal(doc, &root); err != nil {
		v.fail("$", "not JSON: %v", err)
		return
	}
	log := v.object("$", root, []string{"version", "runs"}, []string{"$schema", "inlineExternalProperties", "properties"})
	if log == nil {
		return
	}
	v.enum("$.version", log["version"], "2.1.0")
	if s, ok := log["$schema"]; ok {
		v.uri("$.$schema", s)
	}
	runs := v.array("$.runs", log["runs"])
	for i, r := range runs {
		v.run(fmt.Sprintf("$.runs[%d]", i), r)
	}
}

func (v *sarifValidator) run(path string, x any) {
	run := v.object(path, x, []string{"tool"}, sarifRunProps)
	if run == nil {
		return
	}
	if invocations, ok := run["invocations"]; ok {
		for i, x := range v.array(path+".invocations", invocations) {
			v.invocation(fmt.Sprintf("%s.invocations[%d]", path, i), x)
		}
	}
	tool := v.object(path+".tool", run["tool"], []string{"driver"}, []string{"extensions", "properties"})
	driver := v.object(path+".tool.driver", tool["driver"], []string{"name"}, sarifToolComponentProps)
	v.str(path+".tool.driver.name", driver["name"])
	if u, ok := driver["informationUri"]; ok {
		v.uri(path+".tool.driver.informationUri", u)
	}
	var ruleIDs []string
	for i, r := range v.array(path+".tool.driver.rules", driver["rules"]) {
		p := fmt.Sprintf("%s.tool.driver.rules[%d]", path, i)
		rule := v.object(p, r, []string{"id"}, sarifDescriptorProps)
		id := v.str(p+".id", rule["id"])
		if slices.Contains(ruleIDs, id) {
			v.fail(p, "duplicate rule id %q", id)
		}
		ruleIDs = append(ruleIDs, id)
		v.str(p+".name", rule["name"])
		for _, k := range []string{"shortDescription", "fullDescription", "help"} {
			if m, ok := rule[k]; ok {
				v.message(p+"."+k, m)
			} else {
				v.fail(p, "stridemap promises %s on every rule", k)
			}
		}
		if help, ok := rule["help"].(map[string]any); ok && help["markdown"] == nil {
			v.fail(p+".help", "no markdown")
		}
		if c, ok := rule["defaultConfiguration"]; ok {
			conf := v.object(p+".defaultConfiguration", c, nil, sarifConfigurationProps)
			v.enum(p+".defaultConfiguration.level", conf["level"], sarifLevels...)
		}
		props := v.properties(p+".properties", rule["properties"])
		sev, err := strconv.ParseFloat(v.str(p+".properties.security-severity", props["security-severity"]), 64)
		if err != nil || sev < 0 || sev > 10 {
			v.fail(p+".properties.security-severity", "want a number from 0.0 to 10.0 as a string, got %v", props["security-severity"])
		}
		tags, _ := props["tags"].([]any)
		hasStride, hasCWE := false, false
		for _, tag := range tags {
			s, _ := tag.(string)
			hasStride = hasStride || strings.HasPrefix(s, "stride/")
			hasCWE = hasCWE || strings.HasPrefix(s, "external/cwe/cwe-")
		}
		if !hasStride {
			v.fail(p+".properties.tags", "no STRIDE tag")
		}
		_ = hasCWE // not every rule has a CWE; TestSARIFLocatesFindings checks one that does
	}
	if a, ok := run["automationDetails"]; ok {
		v.object(path+".automationDetails", a, nil, []string{"description", "id", "guid", "correlationGuid", "properties"})
	}
	for i, r := range v.array(path+".results", run["results"]) {
		p := fmt.Sprintf("%s.results[%d]", path, i)
		res := v.object(p, r, []string{"message"}, sarifResultProps)
		v.message(p+".message", res["message"])
		id := v.str(p+".ruleId", res["ruleId"])
		idx := v.integer(p+".ruleIndex", res["ruleIndex"], -1)
		if idx < 0 || idx >= len(ruleIDs) || ruleIDs[idx] != id {
			v.fail(p+".ruleIndex", "%d does not point at rule %q", idx, id)
		}
		v.enum(p+".level", res["level"], sarifLevels...)
		if state, ok := res["baselineState"]; ok {
			v.enum(p+".baselineState", state, "new", "unchanged", "updated", "absent")
		}
		for j, l := range v.array(p+".locations", res["locations"]) {
			v.location(fmt.Sprintf("%s.locations[%d]", p, j), l)
		}
		if rel, ok := res["relatedLocations"]; ok {
			var ids []int
			for j, l := range v.array(p+".relatedLocations", rel) {
				lp := fmt.Sprintf("%s.relatedLocations[%d]", p, j)
				v.location(lp, l)
				if m, ok := l.(map[string]any); ok {
					id := v.integer(lp+".id", m["id"], -1)
					if slices.Contains(ids, id) {
						v.fail(lp+".id", "location ids must be unique within a result")
					}
					ids = append(ids, id)
				}
			}
		}
		fp, ok := res["partialFingerprints"].(map[string]any)
		if !ok || len(fp) == 0 {
			v.fail(p+".partialFingerprints", "want an object of strings")
		}
		for k, val := range fp {
			v.str(p+".partialFingerprints."+k, val)
		}
		if s, ok := res["suppressions"]; ok {
			for j, x := range v.array(p+".suppressions", s) {
				sp := fmt.Sprintf("%s.suppressions[%d]", p, j)
				sup := v.object(sp, x, []string{"kind"}, append([]string{"status"}, sarifSuppressionProps...))
				v.enum(sp+".kind", sup["kind"], "inSource", "external")
				if st, ok := sup["status"]; ok {
					v.enum(sp+".status", st, "accepted", "underReview", "rejected")
				}
			}
		}
		if props, ok := res["properties"]; ok {
			v.properties(p+".properties", props)
		}
	}
}

func (v *sarifValidator) invocation(path string, x any) {
	inv := v.object(path, x, []string{"executionSuccessful"}, sarifInvocationProps)
	if _, ok := inv["executionSuccessful"].(bool); inv != nil && !ok {
		v.fail(path+".executionSuccessful", "must be a boolean")
	}
	for _, key := range []string{"toolExecutionNotifications", "toolConfigurationNotifications"} {
		list, ok := inv[key]
		if !ok {
			continue
		}
		for i, n := range v.array(path+"."+key, list) {
			np := fmt.Sprintf("%s.%s[%d]", path, key, i)
			m := v.object(np, n, []string{"message"}, sarifNotificationProps)
			v.message(np+".message", m["message"])
			if level, ok := m["level"]; ok {
				v.enum(np+".level", level, "none", "note", "warning", "error")
			}
			if p, ok := m["properties"]; ok {
				v.properties(np+".properties", p)
			}
		}
	}
}

func (v *sarifValidator) location(path string, x any) {
	loc := v.object(path, x, nil, sarifLocationProps)
	if loc == nil {
		return
	}
	if pl, ok := loc["physicalLocation"]; ok {
		phys := v.object(path+".physicalLocation", pl, nil, sarifPhysicalLocationProps)
		art := v.object(path+".physicalLocation.artifactLocation", phys["artifactLocation"], nil, sarifArtifactLocationProps)
		v.uri(path+".physicalLocation.artifactLocation.uri", art["uri"])
		if rg, ok := phys["region"]; ok {
			region := v.object(path+".physicalLocation.region", rg, nil, sarifRegionProps)
			v.integer(path+".physicalLocation.region.startLine", region["startLine"], 1)
		}
	}
	if ll, ok := loc["logicalLocations"]; ok {
		for i, l := range v.array(path+".logicalLocations", ll) {
			lp := fmt.Sprintf("%s.logicalLocations[%d]", path, i)
			m := v.object(lp, l, nil, sarifLogicalLocationProps)
			v.str(lp+".name", m["name"])
		}
	}
	if m, ok := loc["message"]; ok {
		v.message(path+".message", m)
	}
}

func validateSARIF(t *testing.T, doc []byte) {
	t.Helper()
	v := &sarifValidator{t: t}
	v.validate(doc)
	if len(v.errs) > 0 {
		if len(v.errs) > 20 {
			v.errs = append(v.errs[:20], "…")
		}
		t.Errorf("SARIF does not conform to 2.1.0:\n%s", strings.Join(v.errs, "\n"))
	}
}

func TestSARIFConformsToSchema(t *testing.T) {
	r := report(t, demo(t), export.Scope{})
	// One triaged finding, to exercise suppressions.
	r.Findings[0].Triage = &threats.Triage{Status: threats.Accepted, Reason: "known", By: "alice", At: time.Now()}
	var b bytes.Buffer
	if err := export.WriteReportSARIF(&b, r, export.SARIFOptions{BaseDir: ".."}); err != nil {
		t.Fatal(err)
	}
	validateSARIF(t, b.Bytes())
	validateSARIF(t, sarifOf(t, hostileReport(t), export.SARIFOptions{}))
}

// TestSARIFValidatorCatchesMistakes: the validator is worth something only
// if it rejects what the schema rejects.
func TestSARIFValidatorCatchesMistakes(t *testing.T) {
	for name, doc := range map[string]string{
		"no version":                             `{"runs": []}`,
		"wrong version":                          `{"version": "2.0.0", "runs": []}`,
		"unknown property":                       `{"version": "2.1.0", "runs": [], "extra": 1}`,
		"no driver name":                         `{"version": "2.1.0", "runs": [{"tool": {"driver": {"rules": []}}, "results": []}]}`,
		"bad level":                              `{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x", "rules": []}}, "results": [{"message": {"text": "m"}, "level": "fatal", "ruleIndex": -1, "ruleId": "r", "partialFingerprints": {"a": "b"}}]}]}`,
		"line 0":                                 `{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x", "rules": []}}, "results": [{"message": {"text": "m"}, "level": "note", "ruleIndex": 0, "ruleId": "r", "partialFingerprints": {"a": "b"}, "locations": [{"physicalLocation": {"artifactLocation": {"uri": "a"}, "region": {"startLine": 0}}}]}]}]}`,
		"message without text":                   `{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x", "rules": []}}, "results": [{"message": {}, "level": "note", "ruleIndex": 0, "ruleId": "r", "partialFingerprints": {"a": "b"}}]}]}`,
		"invocation without executionSuccessful": `{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x", "rules": []}}, "results": [], "invocations": [{"toolExecutionNotifications": []}]}]}`,
		"notification bad level":                 `{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x", "rules": []}}, "results": [], "invocations": [{"executionSuccessful": true, "toolExecutionNotifications": [{"level": "warn", "message": {"text": "m"}}]}]}]}`,
	} {
		v := &sarifValidator{t: t}
		v.validate([]byte(doc))
		if len(v.errs) == 0 {
			t.Errorf("%s: accepted", name)
		}
	}
}

func sarifOf(t *testing.T, r *export.Report, opts export.SARIFOptions) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := export.WriteReportSARIF(&b, r, opts); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestSARIFLocatesFindings: results point at the manifest line that causes
// them, relative to the base directory, with the finding ID as fingerprint,
// severity for GitHub, and suppressions for triaged findings.
func TestSARIFLocatesFindings(t *testing.T) {
	r := report(t, demo(t), export.Scope{})
	id := "literal-secret-in-env@workload:payments/payments"
	for i := range r.Findings {
		if r.Findings[i].ID == id {
			r.Findings[i].Triage = &threats.Triage{Status: threats.Mitigated, Reason: "rotated", By: "bob", At: time.Now()}
		}
	}
	base, _ := filepath.Abs("..")
	var doc struct {
		Runs []struct {
			Tool struct {
				Driver struct {
					Rules []struct {
						ID         string `json:"id"`
						Properties struct {
							SecuritySeverity string   `json:"security-severity"`
							Tags             []string `json:"tags"`
						} `json:"properties"`
					} `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
			Results []struct {
				RuleID    string `json:"ruleId"`
				Level     string `json:"level"`
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct {
							URI string `json:"uri"`
						} `json:"artifactLocation"`
						Region struct {
							StartLine int `json:"startLine"`
						} `json:"region"`
					} `json:"physicalLocation"`
				} `json:"locations"`
				PartialFingerprints map[string]string `json:"partialFingerprints"`
				Suppressions        []struct {
					Kind, Status, Justification string
				} `json:"suppressions"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(sarifOf(t, r, export.SARIFOptions{BaseDir: base}), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Runs) != 1 || len(doc.Runs[0].Results) != len(r.Findings) {
		t.Fatalf("want one run with %d results", len(r.Findings))
	}
	found := false
	for _, res := range doc.Runs[0].Results {
		// GitHub shows only results in a file: namespace and cluster
		// findings are placed too.
		if len(res.Locations) == 0 || res.Locations[0].PhysicalLocation.ArtifactLocation.URI == "" || res.Locations[0].PhysicalLocation.Region.StartLine < 1 {
			t.Errorf("result %s has no file location", res.PartialFingerprints["stridemapFindingId/v1"])
		}
		if res.PartialFingerprints["stridemapFindingId/v1"] != id {
			continue
		}
		found = true
		loc := res.Locations[0].PhysicalLocation
		// The literal is on line 44 of payments.yaml; the Deployment starts at 16.
		if loc.ArtifactLocation.URI != "testdata/demo/payments.yaml" || loc.Region.StartLine != 44 {
			t.Errorf("location = %s:%d, want testdata/demo/payments.yaml:44", loc.ArtifactLocation.URI, loc.Region.StartLine)
		}
		if res.Level != "error" {
			t.Errorf("a critical finding is level %s, want error", res.Level)
		}
		if len(res.Suppressions) != 1 || res.Suppressions[0].Kind != "external" || !strings.Contains(res.Suppressions[0].Justification, "rotated") {
			t.Errorf("a triaged finding should be suppressed: %+v", res.Suppressions)
		}
	}
	if !found {
		t.Fatalf("no result for %s", id)
	}
	for _, rule := range doc.Runs[0].Tool.Driver.Rules {
		if rule.ID == "literal-secret-in-env" {
			if rule.Properties.SecuritySeverity != "9.5" || !slices.Contains(rule.Properties.Tags, "external/cwe/cwe-798") || !slices.Contains(rule.Properties.Tags, "stride/information-disclosure") {
				t.Errorf("rule properties = %+v", rule.Properties)
			}
		}
	}
	// Without a base directory, relative scan paths stay relative.
	if !bytes.Contains(sarifOf(t, r, export.SARIFOptions{}), []byte(`"uri": "../testdata/demo/payments.yaml"`)) {
		t.Error("without --base-dir the path should be as scanned")
	}
}

// TestSARIFLocatesAPIObjects: evidence read from an API server points at
// the object's URL, and says which resourceVersion was read, in SARIF and
// in the text reports.
func TestSARIFLocatesAPIObjects(t *testing.T) {
	r := report(t, demo(t), export.Scope{})
	const object = "https://10.0.0.1:6443/apis/apps/v1/namespaces/payments/deployments/payments"
	r.Findings = r.Findings[:1]
	r.Findings[0].Evidence = []model.Evidence{{File: object, Version: "4711", Object: "Deployment payments/payments", Detail: "no probe"}}
	doc := sarifOf(t, r, export.SARIFOptions{BaseDir: t.TempDir()})
	validateSARIF(t, doc)
	var log struct {
		Runs []struct {
			Results []struct {
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct {
							URI string `json:"uri"`
						} `json:"artifactLocation"`
					} `json:"physicalLocation"`
					Message struct {
						Text string `json:"text"`
					} `json:"message"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(doc, &log); err != nil {
		t.Fatal(err)
	}
	loc := log.Runs[0].Results[0].Locations[0]
	if loc.PhysicalLocation.ArtifactLocation.URI != object || loc.Message.Text != "no probe; read at resourceVersion 4711" {
		t.Errorf("location: %+v", loc)
	}
	if got := export.EvidenceText(r.Findings[0].Evidence[0]); !strings.HasPrefix(got, object+" at resourceVersion 4711") {
		t.Errorf("evidence text: %q", got)
	}
}

// TestSARIFBaselineState: against a baseline, each result says whether it
// is new or unchanged, and the baseline's findings the report no longer
// has come back as absent, so code scanning shows what a change added.
func TestSARIFBaselineState(t *testing.T) {
	r := report(t, demo(t), export.Scope{})
	if len(r.Findings) < 3 {
		t.Fatalf("the demo has %d findings", len(r.Findings))
	}
	fixed := r.Findings[0]
	fixed.ID, fixed.Element = "gone-rule@workload:shop/gone", "workload:shop/gone"
	before := slices.Concat(r.Findings[1:], []threats.Finding{fixed})
	baseline := threats.NewBaseline("scan #1", nil, before)
	doc := sarifOf(t, r, export.SARIFOptions{Baseline: baseline})
	validateSARIF(t, doc)
	var log struct {
		Runs []struct {
			Results []struct {
				BaselineState       string            `json:"baselineState"`
				PartialFingerprints map[string]string `json:"partialFingerprints"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(doc, &log); err != nil {
		t.Fatal(err)
	}
	states := map[string]string{}
	for _, res := range log.Runs[0].Results {
		states[res.PartialFingerprints["stridemapFindingId/v1"]] = res.BaselineState
	}
	if len(states) != len(r.Findings)+1 {
		t.Errorf("%d results, want the %d findings and one absent", len(states), len(r.Findings))
	}
	if states[r.Findings[0].ID] != "new" || states[r.Findings[1].ID] != "unchanged" || states[fixed.ID] != "absent" {
		t.Errorf("states: new %q, unchanged %q, absent %q", states[r.Findings[0].ID], states[r.Findings[1].ID], states[fixed.ID])
	}
	// Without a baseline, no result has a state.
	if bytes.Contains(sarifOf(t, r, export.SARIFOptions{}), []byte("baselineState")) {
		t.Error("baselineState written without a baseline")
	}
}
