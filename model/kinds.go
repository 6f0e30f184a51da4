package model

import (
	"maps"
	"slices"
)

// UnstructuredKinds are the kinds ("group/Kind") the builder itself looks
// up: gateways, routes and the mesh settings that encrypt edges. A live
// scan reads them, with those of the detectors.
func UnstructuredKinds() []string {
	kinds := []string{
		gatewayAPIGroup + "/Gateway",
		istioNetworking + "/Gateway", istioNetworking + "/VirtualService", istioNetworking + "/DestinationRule",
		istioSecurity + "/PeerAuthentication",
	}
	for _, route := range slices.Sorted(maps.Keys(routeKinds)) {
		kinds = append(kinds, gatewayAPIGroup+"/"+route)
	}
	slices.Sort(kinds)
	return kinds
}
