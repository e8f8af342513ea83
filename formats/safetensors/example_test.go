package safetensors_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/formats/safetensors"
)

func ExampleNewReader() {
	f, err := os.Open("../../testdata/safetensors/tiny-mlp.safetensors")
	if err != nil {
		panic(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	model, err := safetensors.NewReader(f, st.Size(), formats.Limits{})
	if err != nil {
		panic(err)
	}
	for _, t := range model.Tensors() {
		fmt.Println(t.Name, t.DType, t.Shape, t.Size)
	}
	// Output:
	// step I64 [] 8
	// layers.0.bias F32 [16] 64
	// layers.0.weight F32 [16 8] 512
	// layers.1.weight BF16 [4 16] 128
	// layers.1.bias F16 [4] 8
	// vocab_mask BOOL [3] 3
}

func ExampleNewReader_refusal() {
	// A header with the same tensor twice: encoding/json would keep the
	// second silently; modelgate refuses the file.
	hdr := `{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`
	file := append([]byte{byte(len(hdr)), 0, 0, 0, 0, 0, 0, 0}, hdr...)
	file = append(file, 0)
	_, err := safetensors.NewReader(bytes.NewReader(file), int64(len(file)), formats.Limits{})
	fmt.Println(errors.Is(err, formats.KindMalformed))
	fmt.Println(err)
	// Output:
	// true
	// duplicate key "a" (at byte 61)
}

func ExampleWrite() {
	var buf bytes.Buffer
	err := safetensors.Write(&buf, []safetensors.Tensor{
		{Name: "w", DType: formats.U8, Shape: []int64{2, 2}, Data: bytes.NewReader([]byte{1, 2, 3, 4})},
	}, map[string]string{"format": "pt"})
	if err != nil {
		panic(err)
	}
	fmt.Printf("%q\n", buf.Bytes()[8:])
	// Output:
	// "{\"__metadata__\":{\"format\":\"pt\"},\"w\":{\"dtype\":\"U8\",\"shape\":[2,2],\"data_offsets\":[0,4]}}  \x01\x02\x03\x04"
}
