// Package tui (with export, the views at the end of the pipeline, see
// docs/architecture.md) is stridemap's terminal UI, for design reviews: an Overview
// of a scan, a Map of its elements and flows, the Threats with their
// evidence and triage in place, the review Questions, and the Drift between
// two scans.
//
// The app (Model) owns the tab bar, the status bar and the scan data, and
// loads the scan in steps (common.LoadScanCmd, LoadFindingsCmd,
// LoadGraphCmd, LoadDriftCmd), so the first frame does not wait for the
// graph. Pages live in tui/pages, the widgets they are built from in
// tui/components, and the key map, styles, messages and commands they
// share in tui/common: one KeyMap (common.KeyMap, a help.KeyMap) and one
// DefaultStyles constructor per colour profile.
//
// Lists are virtualised: they render only the rows on screen, so a scan
// with thousands of elements and tens of thousands of findings is as quick
// to move through as the demo.
package tui
