//go:build !unix

package main

import (
	"context"
	"errors"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/loader"
)

// WorkerAnswer is what the worker says of a model it was handed.
type WorkerAnswer struct {
	OK      bool              `json:"ok"`
	Format  formats.Format    `json:"format,omitempty"`
	Tensors map[string]string `json:"tensors,omitempty"`
	Error   string            `json:"error,omitempty"`
}

// handOff needs Unix sockets and sealed memfds (Linux).
func handOff(context.Context, string, *loader.Model) (*WorkerAnswer, error) {
	return nil, errors.New("handing a sealed model to a worker needs Linux")
}
