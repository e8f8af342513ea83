// Command benchtool is bench/run.sh's helper: it makes model files and
// times the library operations that have no command of their own.
//
//	benchtool mkmodel DIR      make DIR/big-4g.safetensors (sparse)
//	benchtool open FILE        open and list tensors with modelgate
//	benchtool open-nlp FILE    the same with nlpodyssey/safetensors
//	benchtool rss FILE         peak RSS of opening FILE, in this process
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	nlp "github.com/nlpodyssey/safetensors"

	"github.com/modelgate/modelgate/loader"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: benchtool mkmodel|open|open-nlp|rss PATH")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "benchtool:", err)
		os.Exit(1)
	}
}

func run(cmd, p string) error {
	switch cmd {
	case "mkmodel":
		return mkmodel(filepath.Join(p, "big-4g.safetensors"), 4<<30)
	case "open":
		m, err := loader.Open(context.Background(), p)
		if err != nil {
			return err
		}
		fmt.Println(len(m.Tensors))
		return m.Close()
	case "open-nlp":
		b, err := os.ReadFile(p) // the library needs the whole file as []byte
		if err != nil {
			return err
		}
		st, err := nlp.Deserialize(b)
		if err != nil {
			return err
		}
		fmt.Println(st.Len())
		return nil
	case "rss":
		m, err := loader.Open(context.Background(), p)
		if err != nil {
			return err
		}
		defer m.Close()
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		st, _ := os.Stat(p)
		fmt.Printf("open %s: peak RSS %d KiB for a %d MiB file (%.3f%%)\n", filepath.Base(p), ru.Maxrss, st.Size()>>20, float64(ru.Maxrss<<10)*100/float64(st.Size()))
		return nil
	}
	return fmt.Errorf("unknown command %q", cmd)
}

// mkmodel writes a safetensors header for size bytes of F16 data spread
// over 64 tensors, and extends the file sparsely.
func mkmodel(p string, size int64) error {
	if _, err := os.Stat(p); err == nil {
		return nil
	}
	const n = 64
	per := size / n
	hdr := "{"
	for i := 0; i < n; i++ {
		if i > 0 {
			hdr += ","
		}
		hdr += fmt.Sprintf(`"layers.%d.weight":{"dtype":"F16","shape":[%d],"data_offsets":[%d,%d]}`, i, per/2, int64(i)*per, int64(i+1)*per)
	}
	hdr += "}"
	for len(hdr)%8 != 0 {
		hdr += " "
	}
	f, err := os.Create(p)
	if err != nil {
		return err
	}
	defer f.Close()
	var lenBuf [8]byte
	for i := range 8 {
		lenBuf[i] = byte(len(hdr) >> (8 * i))
	}
	if _, err := f.Write(append(lenBuf[:], hdr...)); err != nil {
		return err
	}
	return f.Truncate(int64(8+len(hdr)) + per*n)
}
