//go:build race

package loader_test

// raceOverhead scales the memory and CPU bounds of the child-process tests
// under the race detector, which costs 5-10x memory and 2-20x time.
const raceOverhead = 10
