package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/formats/npy"
	"github.com/modelgate/modelgate/formats/safetensors"
)

// inspectResult is the JSON shape of `modelgate inspect --json`.
type inspectResult struct {
	Path     string            `json:"path"`
	Format   formats.Format    `json:"format"`
	Size     int64             `json:"size"`
	Metadata map[string]string `json:"metadata,omitempty"`
	Tensors  []tensorResult    `json:"tensors"`
}

type tensorResult struct {
	formats.TensorInfo
	SHA256       string `json:"sha256,omitempty"`
	Descr        string `json:"descr,omitempty"`         // npy: numpy's dtype, byte order included
	FortranOrder bool   `json:"fortran_order,omitempty"` // npy: data is column-major
	Member       string `json:"member,omitempty"`        // npz: the zip member
	Compressed   bool   `json:"compressed,omitempty"`    // npz: deflated; offset is within the inflated member
}

func (c *cli) newInspect() *cobra.Command {
	var digests bool
	cmd := &cobra.Command{
		Use:   "inspect [--json] [--digests] FILE",
		Short: "Identify a model file by content, parse it strictly, and list its tensors",
		Example: `  modelgate inspect model.safetensors
  modelgate inspect --json --digests model.safetensors | jq '.tensors[].sha256'`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := inspect(args[0], digests)
			if err != nil {
				return err
			}
			if c.json {
				return c.emit(res)
			}
			return printInspect(c.stdout, res, digests)
		},
	}
	cmd.Flags().BoolVar(&digests, "digests", false, "add the sha256 of each tensor's bytes as stored")
	return cmd
}

func inspect(path string, digests bool) (*inspectResult, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, formats.WithPath(formats.Errorf(formats.KindIO, formats.NoOffset, "%w", err), path)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, formats.WithPath(formats.Errorf(formats.KindIO, formats.NoOffset, "%w", err), path)
	}
	res, err := inspectReader(f, st.Size(), digests)
	if err != nil {
		return nil, formats.WithPath(err, path)
	}
	res.Path = path
	return res, nil
}

func inspectReader(r io.ReaderAt, size int64, digests bool) (*inspectResult, error) {
	format, err := formats.Detect(r, size)
	if err != nil {
		return nil, err
	}
	res := &inspectResult{Format: format, Size: size, Tensors: []tensorResult{}}
	switch format {
	case formats.FormatSafetensors:
		st, err := safetensors.NewReader(r, size, formats.Limits{})
		if err != nil {
			return nil, err
		}
		res.Metadata = st.Metadata()
		for _, t := range st.Tensors() {
			sr, _ := st.Section(t.Name)
			if err := res.add(tensorResult{TensorInfo: t}, sr, digests); err != nil {
				return nil, err
			}
		}
		return res, nil
	case formats.FormatNpy:
		f, err := npy.NewReader(r, size, formats.Limits{})
		if err != nil {
			return nil, err
		}
		return res, res.add(tensorResult{TensorInfo: f.TensorInfo, Descr: f.Descr, FortranOrder: f.FortranOrder}, f.Section(), digests)
	case formats.FormatZip:
		a, err := npy.NewArchive(r, size, formats.Limits{})
		if err != nil {
			return nil, err
		}
		res.Format = formats.FormatNpz
		for _, m := range a.Members() {
			sr, _ := a.Section(m.Name)
			tr := tensorResult{TensorInfo: m.TensorInfo, Descr: m.Descr, FortranOrder: m.FortranOrder, Member: m.Entry, Compressed: !m.Stored}
			if err := res.add(tr, sr, digests); err != nil {
				return nil, err
			}
		}
		return res, nil
	case formats.FormatPickle:
		return nil, formats.Errorf(formats.KindPickle, 0, "file is a pickle; modelgate never loads pickles")
	}
	return nil, formats.Errorf(formats.KindUnknownFormat, 0, "content is not a recognised model format")
}

// add appends tr, with the digest of data when asked.
func (res *inspectResult) add(tr tensorResult, data io.Reader, digests bool) error {
	if digests {
		var err error
		if tr.SHA256, err = digest(data); err != nil {
			return err
		}
	}
	res.Tensors = append(res.Tensors, tr)
	return nil
}

func digest(r io.Reader) (string, error) {
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return "", formats.IOError(formats.NoOffset, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func printInspect(w io.Writer, res *inspectResult, digests bool) error {
	fmt.Fprintf(w, "%s: %s, %d tensors, %d bytes\n", res.Path, res.Format, len(res.Tensors), res.Size)
	for k, v := range sortedMap(res.Metadata) {
		fmt.Fprintf(w, "metadata %s = %q\n", k, v)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	head := "NAME\tDTYPE\tSHAPE\tOFFSET\tSIZE"
	if digests {
		head += "\tSHA256"
	}
	fmt.Fprintln(tw, head)
	for _, t := range res.Tensors {
		line := fmt.Sprintf("%s\t%s\t%s\t%d\t%d", t.Name, t.DType, shapeString(t.Shape), t.Offset, t.Size)
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
