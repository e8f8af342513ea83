package loader_test

import (
	"context"
	"fmt"

	"github.com/modelgate/modelgate/loader"
)

// A CI step scans a tree and fails on any refusal.
func ExampleScan() {
	results, err := loader.Scan(context.Background(), []string{"../testdata/pickle/proto2.pkl", "../testdata/npz/savez.npz"}, loader.ScanOptions{})
	if err != nil {
		panic(err)
	}
	for _, r := range results {
		fmt.Println(r.Verdict, r.Format, r.Kind)
	}
	// Output:
	// refused pickle pickle
	// accepted npz
}
