package model

// addSecretAndSupplyChainControls detects external secret stores and
// admission policy.
func (b *builder) addSecretAndSupplyChainControls() {}
