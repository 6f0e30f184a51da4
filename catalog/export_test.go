package catalog

// Interpreted is c with the native checks off (nativeOf): what CEL alone
// decides, for tests to compare with.
func Interpreted(c *Catalog) *Catalog {
	out := &Catalog{byID: map[string]*Rule{}}
	for _, r := range c.Rules {
		copied := *r
		copied.native, copied.nativeEvidence = nil, nil
		out.Rules = append(out.Rules, &copied)
		out.byID[r.ID] = &copied
	}
	return out
}
