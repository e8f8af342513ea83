// Command benchtool is bench/run.sh's helper: it makes model files and
// times the library operations that have no command of their own.
//
//	benchtool mkmodel DIR      make DIR/big-4g.safetensors (sparse),
//	                           DIR/sig-1g.safetensors and
//	                           DIR/model-2g/model.safetensors (random data)
//	benchtool mktree DIR N     make a tree of N small model and text files
//	benchtool open FILE        open and list tensors with modelgate
//	benchtool open-nlp FILE    the same with nlpodyssey/safetensors
//	benchtool npz FILE         open an npz and read every byte of every array
//	benchtool parse N          parse a 100,000-tensor header N times (modelgate)
//	benchtool parse-nlp N      the same with nlpodyssey/safetensors
//	benchtool mkgguf DIR       make DIR/big-4g.gguf (sparse, 32,000-entry
//	                           tokenizer) and DIR/tok150k.gguf
//	benchtool open-gguf-parser FILE  open a GGUF file with gpustack's
//	                           gguf-parser-go (mapped, its fastest mode)
//	benchtool rss CMD ARGS...  run CMD and print its peak RSS
//	benchtool measure CMD ARGS...  run CMD and print its wall seconds,
//	                           user+sys seconds and peak RSS in KiB (its
//	                           own or a descendant's, whichever is larger)
//	benchtool mkst FILE BYTES  make a safetensors file of BYTES (a multiple
//	                           of 1 MiB) of random U8 data
package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	ggufparser "github.com/gpustack/gguf-parser-go"
	nlp "github.com/nlpodyssey/safetensors"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/formats/safetensors"
	"github.com/modelgate/modelgate/internal/ggufwrite"
	"github.com/modelgate/modelgate/loader"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: benchtool mkmodel|mktree|open|open-nlp|npz|rss ARGS")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "rss":
		err = rss(os.Args[2:])
	case "measure":
		err = measure(os.Args[2:])
	case "mkst":
		if len(os.Args) != 4 {
			err = fmt.Errorf("usage: benchtool mkst FILE BYTES")
			break
		}
		var n int64
		if n, err = strconv.ParseInt(os.Args[3], 10, 64); err == nil {
			err = mkRandom(os.Args[2], n)
		}
	case "mktree":
		err = mktree(os.Args[2], os.Args[3])
	default:
		err = run(os.Args[1], os.Args[2])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtool:", err)
		os.Exit(1)
	}
}

func run(cmd, p string) error {
	switch cmd {
	case "mkmodel":
		if err := mkmodel(filepath.Join(p, "big-4g.safetensors"), 4<<30); err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Join(p, "model-2g"), 0o755); err != nil {
			return err
		}
		if err := mkRandom(filepath.Join(p, "model-2g", "model.safetensors"), 2<<30); err != nil {
			return err
		}
		return mkRandom(filepath.Join(p, "sig-1g.safetensors"), 1<<30)
	case "mkgguf":
		for name, s := range map[string]ggufwrite.File{
			"big-4g.gguf":  ggufwrite.Llama(32_000, 256, 2048),
			"tok150k.gguf": ggufwrite.Llama(150_000, 1, 32),
		} {
			if _, err := os.Stat(filepath.Join(p, name)); err == nil {
				continue
			}
			if err := ggufwrite.WriteSparse(filepath.Join(p, name), s); err != nil {
				return err
			}
		}
		return nil
	case "open-gguf-parser":
		f, err := ggufparser.ParseGGUFFile(p, ggufparser.UseMMap())
		if err != nil {
			return err
		}
		fmt.Println(len(f.TensorInfos))
		return nil
	case "npz":
		m, err := loader.Open(context.Background(), p)
		if err != nil {
			return err
		}
		defer m.Close()
		// numpy copies each array into new memory; modelgate hands out
		// views of the verified mapping. Both read every byte: here, an xor
		// over the view.
		var x uint64
		for _, t := range m.Tensors {
			b, err := m.Bytes(t.Name)
			if err != nil {
				return err
			}
			for i := 0; i+8 <= len(b); i += 8 {
				x ^= binary.LittleEndian.Uint64(b[i:])
			}
		}
		fmt.Println(x)
		return nil
	case "parse", "parse-nlp":
		n, err := strconv.Atoi(p)
		if err != nil {
			return err
		}
		file := header100k()
		for range n {
			if cmd == "parse" {
				_, err = safetensors.NewReaderBytes(file, formats.Limits{MaxTensors: 100_000}) // above the default 65,536
			} else {
				_, err = nlp.Deserialize(file)
			}
			if err != nil {
				return err
			}
		}
		return nil
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

// rss runs a command and prints its peak resident set size.
func rss(args []string) error {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	if err := cmd.Run(); err != nil {
		return err
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	fmt.Printf("%d\n", ru.Maxrss) // KiB
	return nil
}

// measure runs a command and prints its wall time, CPU time and peak
// RSS. Linux's wait4 reports a process's usage with that of the
// descendants it waited for, so a shell pipeline counts whole.
func measure(args []string) error {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	t0 := time.Now()
	if err := cmd.Run(); err != nil {
		return err
	}
	wall := time.Since(t0)
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	fmt.Printf("%.3f %.3f %d\n", wall.Seconds(), cpu.Seconds(), ru.Maxrss)
	return nil
}

// mkRandom writes a safetensors file of size bytes (a multiple of 1 MiB)
// of random U8 data; an existing file is kept.
func mkRandom(p string, size int64) error {
	if size <= 0 || size%(1<<20) != 0 {
		return fmt.Errorf("%s: size %d is not a positive multiple of 1 MiB", p, size)
	}
	if _, err := os.Stat(p); err == nil {
		return nil
	}
	f, err := os.Create(p)
	if err != nil {
		return err
	}
	defer f.Close()
	rnd, err := os.Open("/dev/urandom")
	if err != nil {
		return err
	}
	defer rnd.Close()
	// Rows of 1 MiB: a dimension stays within int32 whatever the size.
	return safetensors.Write(f, []safetensors.Tensor{{Name: "w", DType: formats.U8, Shape: []int64{size >> 20, 1 << 20}, Data: io.LimitReader(rnd, size)}}, nil)
}

// mktree makes n files below dir: a quarter safetensors, the rest text
// and JSON, in nested directories, as a model repository has.
func mktree(dir, count string) error {
	n, err := strconv.Atoi(count)
	if err != nil {
		return err
	}
	var st bytes.Buffer
	if err := safetensors.Write(&st, []safetensors.Tensor{{Name: "w", DType: formats.F32, Shape: []int64{256}, Data: bytes.NewReader(make([]byte, 1024))}}, nil); err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		p := filepath.Join(dir, fmt.Sprintf("d%02d", i%37), fmt.Sprintf("f%05d", i))
		b := []byte(fmt.Sprintf("{\"file\": %d}\n", i))
		if i%4 == 0 {
			p, b = p+".safetensors", st.Bytes()
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// header100k is a file with 100,000 one-element tensors named like a
// large mixture-of-experts model's.
func header100k() []byte {
	ts := make([]safetensors.Tensor, 100_000)
	for i := range ts {
		ts[i] = safetensors.Tensor{Name: fmt.Sprintf("model.layers.%d.mlp.experts.%d.down_proj.weight", i/256, i%256),
			DType: formats.F32, Shape: []int64{1, 1}, Data: bytes.NewReader(make([]byte, 4))}
	}
	var buf bytes.Buffer
	if err := safetensors.Write(&buf, ts, map[string]string{"format": "pt"}); err != nil {
		panic(err)
	}
	return buf.Bytes()
}
