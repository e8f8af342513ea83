package main

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/formats/gguf"
	"github.com/modelgate/modelgate/internal/safetext"
	"github.com/modelgate/modelgate/loader"
)

// inspectResult is the JSON shape of `modelgate inspect --json`.
type inspectResult struct {
	Path     string            `json:"path"`
	Format   formats.Format    `json:"format"`
	Size     int64             `json:"size"`
	Metadata map[string]string `json:"metadata,omitempty"`
	Files    []string          `json:"files,omitempty"` // a directory's weight files
	Tensors  []tensorResult    `json:"tensors"`
}

type tensorResult struct {
	loader.ModelTensor
	DType  string `json:"dtype"` // safetensors spelling, or the ggml type of a GGUF tensor
	SHA256 string `json:"sha256,omitempty"`
}

func (c *cli) newInspect() *cobra.Command {
	var digests, allMetadata bool
	var lf loadFlags
	cmd := &cobra.Command{
		Use:   "inspect [--json] [--digests] [--profile mlx] PATH",
		Short: "Identify a model (file or directory) by content, parse it strictly, and list its tensors",
		Example: `  modelgate inspect model.safetensors
  modelgate inspect --json --digests model.safetensors | jq '.tensors[].sha256'
  modelgate inspect --profile mlx ./sharded-model`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := lf.open(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			defer m.Close()
			res, err := inspect(m, args[0], digests)
			if err != nil {
				return err
			}
			if allMetadata {
				res.Metadata = ggufMetadata(m, res.Metadata)
			}
			if c.json {
				return c.emit(res)
			}
			return printInspect(c.stdout, res, digests)
		},
	}
	cmd.Flags().BoolVar(&digests, "digests", false, "add the sha256 of each tensor's bytes as stored")
	cmd.Flags().BoolVar(&allMetadata, "metadata", false, "show every GGUF metadata pair (arrays as their type and length)")
	lf.register(cmd, false)
	return cmd
}

// inspect describes an opened model.
func inspect(m *loader.Model, path string, digests bool) (*inspectResult, error) {
	res := &inspectResult{Path: path, Format: m.Files[0].Format, Metadata: m.Files[0].Metadata, Tensors: []tensorResult{}}
	for _, f := range m.Files {
		res.Size += f.Size
		if f.Format != res.Format {
			res.Format = "mixed"
		}
	}
	if len(m.Files) > 1 {
		res.Metadata = nil
		for _, f := range m.Files {
			res.Files = append(res.Files, f.Name)
		}
	}
	for _, t := range m.Tensors {
		tr := tensorResult{ModelTensor: t, DType: cmp.Or(t.GGMLType, t.Tensor.DType.String())}
		if digests {
			sr, err := m.Section(t.Name)
			if err != nil {
				return nil, err
			}
			if tr.SHA256, err = digest(sr); err != nil {
				return nil, formats.WithPath(err, t.File)
			}
		}
		res.Tensors = append(res.Tensors, tr)
	}
	return res, nil
}

// ggufMetadata adds every metadata pair of the model's GGUF files to md,
// arrays as their element type and length.
func ggufMetadata(m *loader.Model, md map[string]string) map[string]string {
	for _, f := range m.Files {
		g := f.GGUF()
		if g == nil {
			continue
		}
		if md == nil {
			md = map[string]string{}
		}
		for _, kv := range g.Metadata {
			v := fmt.Sprint(kv.Value)
			if kv.Type == gguf.Array {
				v = fmt.Sprintf("[%d %s]", reflect.ValueOf(kv.Value).Len(), kv.Elem)
			}
			md[kv.Key] = v
		}
	}
	return md
}

func digest(r io.Reader) (string, error) {
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return "", formats.IOError(formats.NoOffset, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// printInspect prints the table; every name an attacker chose (paths,
// tensor names, metadata) goes through safetext.Escape.
func printInspect(w io.Writer, res *inspectResult, digests bool) error {
	fmt.Fprintf(w, "%s: %s, %d tensors, %d bytes\n", safetext.Escape(res.Path), res.Format, len(res.Tensors), res.Size)
	for k, v := range sortedMap(res.Metadata) {
		fmt.Fprintf(w, "metadata %s = %s\n", safetext.Escape(k), safetext.Escape(strconv.Quote(v)))
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	files := len(res.Files) > 0
	head := "NAME\tDTYPE\tSHAPE\tOFFSET\tSIZE"
	if files {
		head = "FILE\t" + head
	}
	if digests {
		head += "\tSHA256"
	}
	fmt.Fprintln(tw, head)
	for _, t := range res.Tensors {
		line := fmt.Sprintf("%s\t%s\t%s\t%d\t%d", safetext.Escape(t.Name), safetext.Escape(t.DType), shapeString(t.Shape), t.Offset, t.Size)
		if files {
			line = safetext.Escape(t.File) + "\t" + line
		}
		if digests {
			line += "\t" + t.SHA256
		}
		fmt.Fprintln(tw, line)
	}
	return tw.Flush()
}

func shapeString(shape []int64) string {
	parts := make([]string, len(shape))
	for i, d := range shape {
		parts[i] = fmt.Sprint(d)
	}
	return "[" + strings.Join(parts, ",") + "]"
}
