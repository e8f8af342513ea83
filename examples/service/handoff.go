//go:build unix

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"time"

	"golang.org/x/sys/unix"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/loader"
)

// WorkerAnswer is what the worker (examples/worker) says of a model it
// was handed.
type WorkerAnswer struct {
	OK      bool              `json:"ok"`
	Format  formats.Format    `json:"format,omitempty"`
	Tensors map[string]string `json:"tensors,omitempty"` // name -> sha256 of the bytes it loaded
	Error   string            `json:"error,omitempty"`
}

// handOff seals what was verified (loader.Model.Seal) and passes the
// sealed file to the worker listening on sock, as SCM_RIGHTS beside a JSON
// header {"format","size"}. The worker never sees a path: nothing written
// to the volume or the upload after verification reaches it, and it can
// check the seals itself.
func handOff(ctx context.Context, sock string, m *loader.Model) (*WorkerAnswer, error) {
	sealed, err := m.Seal()
	if err != nil {
		return nil, err
	}
	defer sealed.Close()
	st, err := sealed.Stat()
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", sock)
	if err != nil {
		return nil, fmt.Errorf("worker: %w", err)
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	} else {
		_ = c.SetDeadline(time.Now().Add(time.Minute))
	}
	h, _ := json.Marshal(struct {
		Format formats.Format `json:"format"`
		Size   int64          `json:"size"`
	}{m.SealFormat(), st.Size()})
	if _, _, err := c.(*net.UnixConn).WriteMsgUnix(h, unix.UnixRights(int(sealed.Fd())), nil); err != nil {
		return nil, fmt.Errorf("worker: %w", err)
	}
	var a WorkerAnswer
	if err := json.NewDecoder(io.LimitReader(c, 64<<20)).Decode(&a); err != nil {
		return nil, fmt.Errorf("worker: %w", err)
	}
	return &a, nil
}
