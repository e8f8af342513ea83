package verify

import (
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/modelgate/modelgate/formats"
)

// TestPolicyLimitsTable: the field table names every PolicyLimits field
// by its YAML key, and sets every formats.Limits field once.
func TestPolicyLimitsTable(t *testing.T) {
	pt := reflect.TypeOf(PolicyLimits{})
	fields := PolicyLimits{}.fields()
	var keys []string
	for i := range pt.NumField() {
		keys = append(keys, pt.Field(i).Tag.Get("yaml"))
	}
	var names []string
	set := map[*int64]bool{}
	var l formats.Limits
	for _, f := range fields {
		names = append(names, f.name)
		if f.to != nil {
			p := f.to(&l)
			assert.False(t, set[p], "%s sets a field another limit sets", f.name)
			set[p] = true
		}
	}
	assert.ElementsMatch(t, keys, names)
	assert.Len(t, set, reflect.TypeOf(formats.Limits{}).NumField(), "every formats.Limits field has a policy key")
}
