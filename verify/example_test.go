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
	d, err := verify.Hash(context.Background(), f, st.Size(), nil)
	if err != nil {
		panic(err)
	}
	sums := d.String() + "  tiny-mlp.safetensors\n"
	entries, _ := verify.ParseSHA256Sums(strings.NewReader(sums))
	allow, _ := verify.NewAllowlist(entries...)
	fmt.Println(allow.Check("tiny-mlp.safetensors", d))
	err = allow.Check("other.safetensors", d)
	fmt.Println(errors.Is(err, formats.KindNotAllowlisted))
	// Output:
	// <nil>
	// true
}
