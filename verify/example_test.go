package verify_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/verify"
)

func ExampleAllowlist_Check() {
	f, err := os.Open("../testdata/safetensors/tiny-mlp.safetensors")
	if err != nil {
		panic(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	// A b3sum line: the caller says the algorithm (--blake3-file).
	b, err := verify.BLAKE3.Sum(context.Background(), f, st.Size(), nil)
	if err != nil {
		panic(err)
	}
	d := verify.Digest(b)
	sums := verify.SumLine(d, "tiny-mlp.safetensors")
	entries, _ := verify.ParseSums(strings.NewReader(sums), verify.BLAKE3)
	allow, _ := verify.NewAllowlist(entries...)
	file := verify.FileDigest{Name: "tiny-mlp.safetensors", Size: st.Size(), BLAKE3: &d}
	fmt.Println(allow.Algorithms(), allow.Check(&file))
	file.Name = "other.safetensors"
	err = allow.Check(&file)
	fmt.Println(errors.Is(err, formats.KindNotAllowlisted))
	// Output:
	// [blake3] <nil>
	// true
}
