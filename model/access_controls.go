package model

// addAccessControls detects authentication, authorization and rate limits
// at gateways and in the mesh.
func (b *builder) addAccessControls() {}
