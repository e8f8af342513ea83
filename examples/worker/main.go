//go:build linux

// Command worker is an example model worker for Go services: it receives
// verified models from examples/service over a Unix socket, as sealed
// memfds (SCM_RIGHTS), and never opens a model path. It refuses a
// descriptor that is not sealed against change, maps the sealed bytes
// read-only, parses them strictly, and hands each tensor's bytes on (here
// it answers with their digests; an MLX worker builds its arrays from the
// same mapping).
//
//	go run ./examples/worker -socket /run/modelgate/worker.sock
//	go run ./examples/service -worker /run/modelgate/worker.sock ...
//
// One message per connection: a JSON header {"format","size"} with the
// descriptor attached; the answer is one JSON line, {"ok":true,"format",
// "tensors":{"name":"sha256"}} or {"ok":false,"error":"..."}.
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"os"

	"golang.org/x/sys/unix"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/loader"
)

func main() {
	sock := flag.String("socket", "", "Unix socket to listen on")
	flag.Parse()
	if *sock == "" {
		log.Fatal("give -socket PATH")
	}
	_ = os.Remove(*sock)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: *sock, Net: "unix"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Fprintf(os.Stderr, "worker listening on %s\n", *sock)
	for {
		c, err := ln.AcceptUnix()
		if err != nil {
			log.Fatal(err)
		}
		go func() {
			defer c.Close()
			_ = json.NewEncoder(c).Encode(Handle(c))
		}()
	}
}

// Header describes the sealed file that comes with it.
type Header struct {
	Format formats.Format `json:"format"`
	Size   int64          `json:"size"`
}

// Answer is the worker's reply.
type Answer struct {
	OK      bool              `json:"ok"`
	Format  formats.Format    `json:"format,omitempty"`
	Tensors map[string]string `json:"tensors,omitempty"` // name -> sha256 of its bytes as stored
	Error   string            `json:"error,omitempty"`
}

// Handle receives one sealed model from c and loads it.
func Handle(c *net.UnixConn) Answer {
	f, h, err := Receive(c)
	if err != nil {
		return Answer{Error: err.Error()}
	}
	defer f.Close()
	tensors, err := load(f, h)
	if err != nil {
		return Answer{Error: err.Error()}
	}
	return Answer{OK: true, Format: h.Format, Tensors: tensors}
}

// Receive reads the header and exactly one descriptor from c, and checks
// that the descriptor is a file sealed against every change.
func Receive(c *net.UnixConn) (*os.File, Header, error) {
	var h Header
	buf, oob := make([]byte, 4096), make([]byte, unix.CmsgSpace(4*4))
	n, oobn, flags, _, err := c.ReadMsgUnix(buf, oob)
	if err != nil {
		return nil, h, err
	}
	var fds []int
	if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
		for _, m := range msgs {
			r, err := unix.ParseUnixRights(&m)
			if err == nil {
				fds = append(fds, r...)
			}
		}
	}
	files := make([]*os.File, len(fds))
	for i, fd := range fds {
		unix.CloseOnExec(fd)
		files[i] = os.NewFile(uintptr(fd), "sealed")
	}
	closeAll := func() {
		for _, f := range files {
			f.Close()
		}
	}
	switch {
	case flags&(unix.MSG_CTRUNC|unix.MSG_TRUNC) != 0:
		closeAll()
		return nil, h, errors.New("message truncated")
	case len(files) != 1:
		closeAll()
		return nil, h, fmt.Errorf("want one descriptor, got %d", len(files))
	}
	if err := json.Unmarshal(buf[:n], &h); err != nil {
		closeAll()
		return nil, h, fmt.Errorf("header: %w", err)
	}
	if err := loader.CheckSealed(files[0]); err != nil {
		closeAll()
		return nil, h, fmt.Errorf("refused: %w", err)
	}
	return files[0], h, nil
}

// load maps the sealed file read-only, parses it, and digests each tensor
// from the mapping: the bytes an MLX array would be built from.
func load(f *os.File, h Header) (map[string]string, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() != h.Size || st.Size() == 0 {
		return nil, fmt.Errorf("sealed file holds %d bytes, header says %d", st.Size(), h.Size)
	}
	mem, err := unix.Mmap(int(f.Fd()), 0, int(st.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, err
	}
	defer unix.Munmap(mem)
	parsed, err := loader.Parse(f, st.Size(), mem, formats.Limits{})
	if err != nil {
		return nil, err
	}
	if parsed.Format != h.Format {
		return nil, fmt.Errorf("sealed file is %s, header says %s", parsed.Format, h.Format)
	}
	out := map[string]string{}
	for _, t := range parsed.Tensors {
		b, ok := parsed.Bytes(t.Name)
		if !ok {
			return nil, fmt.Errorf("tensor %s is not in the mapping", t.Name)
		}
		sum := sha256.Sum256(b)
		out[t.Name] = hex.EncodeToString(sum[:])
	}
	return out, nil
}
