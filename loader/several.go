package loader

import (
	"errors"
	"fmt"
	"strings"

	"github.com/modelgate/modelgate/formats"
)

// SeveralFormatsError is the cause of refusing a model directory that
// holds weights modelgate loads beside files refused for their format, as
// many Hugging Face repositories ship model.safetensors beside
// pytorch_model.bin (a pickle), tf_model.h5 and flax_model.msgpack. The
// model is refused whole, since a consumer may load any of its files
// (transformers picks one by what is installed and what it is asked for).
// errors.As finds it in the refusal; the refusal's Kind is that of the
// most severe refused file.
type SeveralFormatsError struct {
	Loads   []string // files of formats modelgate loads, sorted
	Refused []string // files refused for their format, sorted
}

func (e *SeveralFormatsError) Error() string {
	return fmt.Sprintf("the model ships several formats: %s, which load, beside %s, which a consumer may load instead",
		strings.Join(e.Loads, ", "), strings.Join(e.Refused, ", "))
}

// formatRefusal reports whether a file refused with err was refused for
// its format: a pickle, a format modelgate does not load, or no known
// format.
func formatRefusal(err error) bool {
	switch formats.KindOf(err) {
	case formats.KindPickle, formats.KindUnsupported, formats.KindUnknownFormat:
		return true
	}
	return false
}

// refuseIdentified returns the refusal of a model whose files were
// identified as loads (weights) and refused (each with its error, in name
// order): the most severe refusal (formats.KindsBySeverity), the first of
// equals, carrying a *SeveralFormatsError when weights that load sit
// beside files refused for their format.
func refuseIdentified(loads []string, refused []error, names []string) error {
	worst := 0
	for i, err := range refused {
		if formats.MoreSevere(formats.KindOf(err), formats.KindOf(refused[worst])) {
			worst = i
		}
	}
	var fe *formats.Error
	if len(loads) == 0 || !errors.As(refused[worst], &fe) || !formatRefusal(fe) {
		return refused[worst]
	}
	several := &SeveralFormatsError{Loads: loads}
	for i, err := range refused {
		if formatRefusal(err) {
			several.Refused = append(several.Refused, names[i])
		}
	}
	c := *fe
	c.Msg += "; " + several.Error()
	c.Err = several
	if fe.Err != nil {
		c.Err = errors.Join(fe.Err, several)
	}
	return &c
}
