package npy_test

import (
	"errors"
	"fmt"
	"os"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/formats/npy"
)

func ExampleNewArchive() {
	f, err := os.Open("../../testdata/npz/savez.npz")
	if err != nil {
		panic(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	a, err := npy.NewArchive(f, st.Size(), formats.Limits{})
	if err != nil {
		panic(err)
	}
	for _, m := range a.Members() {
		fmt.Println(m.Name, m.Descr, m.DType, m.Shape, m.Stored)
	}
	// Output:
	// weight <f4 F32 [8 4] true
	// bias <f2 F16 [8] true
	// layers/0/scale <f8 F64 [] true
	// mask |b1 BOOL [2] true
}

func ExampleNewReaderBytes() {
	b, err := os.ReadFile("../../testdata/npy/hostile/object.npy")
	if err != nil {
		panic(err)
	}
	_, err = npy.NewReaderBytes(b, formats.Limits{})
	fmt.Println(errors.Is(err, formats.KindPickle))
	fmt.Println(err)
	// Output:
	// true
	// descr: object dtype "|O": the data is a pickle (at byte 19)
}
