package main

import (
	"bufio"
	"bytes"
	"fmt"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMain runs the service's main when a test starts it as a child
// process (MODELGATE_SERVICE_ARGS holds its arguments, separated by US, 0x1f).
func TestMain(m *testing.M) {
	if args := os.Getenv("MODELGATE_SERVICE_ARGS"); args != "" {
		os.Args = append([]string{"service"}, strings.Split(args, "\x1f")...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// child is the service running as a separate process.
type child struct {
	cmd  *exec.Cmd
	addr string
}

func startChild(t *testing.T, args ...string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "MODELGATE_SERVICE_ARGS="+strings.Join(append([]string{"-listen", "127.0.0.1:0"}, args...), "\x1f"))
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	sc := bufio.NewScanner(stderr)
	c := &child{cmd: cmd}
	for sc.Scan() {
		if a, ok := strings.CutPrefix(sc.Text(), "listening on "); ok {
			c.addr = a
			break
		}
	}
	require.NotEmpty(t, c.addr, "the service did not start")
	go func() {
		for sc.Scan() {
		}
	}()
	return c
}

// peakRSS reads the child's peak resident set (VmHWM).
func (c *child) peakRSS(t *testing.T) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid))
	require.NoError(t, err)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			require.NoError(t, err)
			return kb << 10
		}
	}
	t.Fatal("no VmHWM")
	return 0
}

// slowUpload starts an upload that sends one byte every interval and
// reports when the server closes the connection.
func slowUpload(addr string, interval time.Duration) <-chan time.Duration {
	done := make(chan time.Duration, 1)
	go func() {
		start := time.Now()
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			done <- 0
			return
		}
		defer conn.Close()
		fmt.Fprintf(conn, "POST /v1/models HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: 100000000\r\n\r\n--b\r\nContent-Disposition: form-data; name=\"model\"; filename=\"m\"\r\n\r\n")
		for {
			if _, err := conn.Write([]byte{'N'}); err != nil {
				break
			}
			time.Sleep(interval)
		}
		done <- time.Since(start)
	}()
	return done
}

// bomb is a safetensors file whose header holds millions of tiny metadata
// entries (issue 18, finding 2).
func bomb(size int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"__metadata__":{`)
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, `"%x":"",`, i)
	}
	b.WriteString(`"end":""}}`)
	for b.Len()%8 != 0 {
		b.WriteByte(' ')
	}
	n := b.Len()
	return append([]byte{byte(n), byte(n >> 8), byte(n >> 16), byte(n >> 24), 0, 0, 0, 0}, b.Bytes()...)
}

func post(t *testing.T, addr string, payload []byte) int {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("model", "m.safetensors")
	fw.Write(payload)
	mw.Close()
	resp, err := http.Post("http://"+addr+"/v1/models", mw.FormDataContentType(), &body)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func entries(t *testing.T, dir string) []string {
	es, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil
	}
	require.NoError(t, err)
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// TestServiceUnderAbuse: slow uploads are cut off, concurrent header bombs
// keep memory bounded (503 past the limit), SIGTERM finishes and leaves
// nothing partial, and a restart after SIGKILL cleans the spool.
func TestServiceUnderAbuse(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the service as a child process for about 15 s")
	}
	dir := t.TempDir()
	spool, outbox := filepath.Join(dir, "spool"), filepath.Join(dir, "outbox")
	require.NoError(t, os.Mkdir(outbox, 0o755))
	args := []string{"-spool", spool, "-outbox", outbox, "-max-bytes", strconv.Itoa(64 << 20), "-max-concurrent", "2", "-upload-timeout", "2s"}
	c := startChild(t, args...)

	// Slow uploads: 20 clients sending a byte every 300 ms are all cut off
	// near the 2 s upload timeout.
	var slow []<-chan time.Duration
	for range 20 {
		slow = append(slow, slowUpload(c.addr, 300*time.Millisecond))
	}
	for _, ch := range slow {
		select {
		case d := <-ch:
			assert.Less(t, d, 6*time.Second, "a slow upload was held %v", d)
		case <-time.After(10 * time.Second):
			t.Fatal("a slow upload was held open past 10 s")
		}
	}

	// Concurrent header bombs: refused, some with 503 past the limit, and
	// the service's peak RSS stays bounded.
	b := bomb(40 << 20)
	var wg sync.WaitGroup
	statuses := make([]int, 6)
	for i := range statuses {
		wg.Add(1)
		go func() { defer wg.Done(); statuses[i] = post(t, c.addr, b) }()
	}
	wg.Wait()
	for _, s := range statuses {
		assert.Contains(t, []int{http.StatusUnprocessableEntity, http.StatusServiceUnavailable}, s)
	}
	rss := c.peakRSS(t)
	t.Logf("peak RSS after 20 slow uploads and 6 concurrent 40 MB header bombs: %d MiB; statuses %v", rss>>20, statuses)
	assert.Less(t, rss, int64(400<<20))

	// SIGTERM during uploads: the service finishes and leaves nothing.
	for range 3 {
		slowUpload(c.addr, 200*time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	require.NotEmpty(t, entries(t, spool), "uploads are under way in the spool")
	require.NoError(t, c.cmd.Process.Signal(syscall.SIGTERM))
	exited := make(chan error, 1)
	go func() { exited <- c.cmd.Wait() }()
	select {
	case err := <-exited:
		assert.NoError(t, err)
	case <-time.After(15 * time.Second):
		c.cmd.Process.Kill()
		t.Fatal("the service did not stop after SIGTERM")
	}
	assert.Empty(t, entries(t, spool), "no partial upload is left")
	for _, n := range entries(t, outbox) {
		assert.False(t, strings.HasPrefix(n, ".incoming-"), "no partial outbox file: %s", n)
	}

	// SIGKILL during uploads, then a restart: the spool is cleaned.
	c = startChild(t, args...)
	for range 3 {
		slowUpload(c.addr, 200*time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	require.NoError(t, c.cmd.Process.Kill())
	c.cmd.Wait()
	require.NotEmpty(t, entries(t, spool), "SIGKILL leaves partial uploads")
	c = startChild(t, args...)
	assert.Empty(t, entries(t, spool), "a restart cleans the spool")
	require.NoError(t, c.cmd.Process.Signal(syscall.SIGTERM))
	c.cmd.Wait()
}
