package loader

import "github.com/modelgate/modelgate/internal/memfd"

var createSealed = memfd.Create
