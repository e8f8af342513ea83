//go:build linux

package sandbox

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// TestUnavailableWithoutLandlock: a kernel without Landlock (ENOSYS when
// not built in, EOPNOTSUPP when not enabled) is reported with the reason,
// for run to refuse.
func TestUnavailableWithoutLandlock(t *testing.T) {
	defer func(f func() (int, error)) { abiVersion = f }(abiVersion)
	for _, errno := range []error{unix.ENOSYS, unix.EOPNOTSUPP} {
		abiVersion = func() (int, error) { return 0, errno }
		err := Available()
		require.Error(t, err)
		assert.Contains(t, err.Error(), "Landlock is not available")
		assert.Contains(t, err.Error(), errno.Error())
	}
	abiVersion = func() (int, error) { return 1, nil }
	assert.NoError(t, Available())
}

func TestParseSpecRefusesNoCommand(t *testing.T) {
	_, err := ParseSpec(`{"path":"","args":[]}`)
	assert.Error(t, err)
	_, err = ParseSpec(`not json`)
	assert.Error(t, err)
	s, err := ParseSpec(`{"path":"/bin/true","args":["true"],"max_open_files":8}`)
	require.NoError(t, err)
	assert.Equal(t, uint64(8), s.MaxOpenFiles)
}
