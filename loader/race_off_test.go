//go:build !race

package loader_test

// raceOverhead scales the memory and CPU bounds of the child-process tests
// (1: no race detector).
const raceOverhead = 1
