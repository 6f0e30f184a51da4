// Package components holds the TUI's building blocks: a virtualised list
// and table that render only the rows on screen, a scrolling detail pane,
// a one-line text prompt, the tab bar and the status bar. They know nothing
// about threats or graphs; pages give them rows and text.
package components
