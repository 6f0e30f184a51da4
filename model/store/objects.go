package store

import "github.com/stridemap/stridemap/discover"

// objectGroup is how the store keeps the inventory index: one row for a
// run of consecutive objects read from one file in one namespace (a
// manifest file's objects, or one namespace's part of a larger file). A
// row costs far more to write than an object's few names do; an object
// read from an API server has a file of its own, so a live scan keeps one
// row per object, as before.
type objectGroup struct {
	File      string          `json:"file"`
	Namespace string          `json:"namespace"`
	Objects   []groupedObject `json:"objects"`
}

// groupedObject is an ObjectRef without the file and namespace its group
// holds.
type groupedObject struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Name       string `json:"name"`
	Line       int    `json:"line"`
}

// objectRuns returns where each run of objects with one file and
// namespace starts, as controlRuns does for controls.
func objectRuns(objects []ObjectRef) []int {
	return runs(len(objects), func(i int) bool {
		a, b := &objects[i-1], &objects[i]
		return a.Location.File == b.Location.File && a.Namespace == b.Namespace
	})
}

// groupObjects is the row for the run objects, which share a file and a
// namespace.
func groupObjects(objects []ObjectRef) objectGroup {
	g := objectGroup{File: objects[0].Location.File, Namespace: objects[0].Namespace, Objects: make([]groupedObject, len(objects))}
	for i := range objects {
		o := &objects[i]
		g.Objects[i] = groupedObject{APIVersion: o.APIVersion, Kind: o.Kind, Name: o.Name, Line: o.Location.Line}
	}
	return g
}

// objectsName names the run of objects that starts with o in an error:
// its file, and its namespace if it has one.
func objectsName(o *ObjectRef) string {
	if o.Namespace == "" {
		return o.Location.File
	}
	return o.Location.File + ", namespace " + o.Namespace
}

// appendObjects appends the objects the groups hold, in order.
func appendObjects(out []ObjectRef, groups []objectGroup) []ObjectRef {
	for _, g := range groups {
		for _, o := range g.Objects {
			out = append(out, ObjectRef{APIVersion: o.APIVersion, Kind: o.Kind, Namespace: g.Namespace, Name: o.Name,
				Location: discover.Location{File: g.File, Line: o.Line}})
		}
	}
	return out
}

// runs returns where each run of n consecutive items starts, and n last:
// run i is [at[i], at[i+1]). continues(i) says item i belongs to the same
// run as item i-1.
func runs(n int, continues func(i int) bool) []int {
	at := []int{}
	for i := range n {
		if i == 0 || !continues(i) {
			at = append(at, i)
		}
	}
	return append(at, n)
}
