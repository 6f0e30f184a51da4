package controls

import "math/rand/v2"

// randomLabels draws up to max labels from keys and values, for tests that
// check an index against a plain scan of the list it indexes.
func randomLabels(rng *rand.Rand, keys, values []string, max int) map[string]string {
	l := map[string]string{}
	for range rng.IntN(max + 1) {
		l[keys[rng.IntN(len(keys))]] = values[rng.IntN(len(values))]
	}
	return l
}
