package controls

import "github.com/stridemap/stridemap/model"

// EncryptedInTransit marks an edge whose traffic is TLS or mutual TLS.
const EncryptedInTransit = "encrypted-in-transit"

// addEncryptedInTransit turns the encryption model.Build found on each
// edge (URL scheme, mesh policy, observed handshake) into a control.
func addEncryptedInTransit(ix *model.Index) {
	for _, e := range ix.Edges() {
		if e.Encryption == model.EncryptionTLS || e.Encryption == model.EncryptionMTLS {
			ix.AddControl(EncryptedInTransit, e.ID, model.Evidence{Detail: string(e.Encryption) + ": " + e.EncryptionSource})
		}
	}
}
