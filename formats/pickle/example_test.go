package pickle_test

import (
	"fmt"
	"os"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/formats/pickle"
)

func ExampleClassify() {
	f, err := os.Open("../../testdata/pickle/torch-zip.pt")
	if err != nil {
		panic(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	v, err := pickle.Classify(f, st.Size(), formats.Limits{})
	if err != nil {
		panic(err)
	}
	fmt.Println(v.Format, v.Pickle, v.Accepted())
	fmt.Println(v.Refusal().Kind)
	// Output:
	// pytorch-zip true false
	// pickle
}
