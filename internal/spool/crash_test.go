package spool

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestKillIsNotDamage kills (SIGKILL) a child process appending and acknowledging at full
// speed, several times at random moments: the page cache keeps what was written, so the next
// Open finds no damage at all, and every record whose Append returned and whose Ack did not
// start is back.
func TestKillIsNotDamage(t *testing.T) {
	if dir := os.Getenv("SPOOL_TEST_CRASH"); dir != "" {
		crashChild(dir)
		return
	}
	dir := t.TempDir()
	appended := map[uint64]bool{}
	for round := range 6 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKillIsNotDamage$")
		cmd.Env = append(os.Environ(), "SPOOL_TEST_CRASH="+dir)
		out, err := cmd.StdoutPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		lines := make(chan string)
		go func() {
			defer close(lines)
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				lines <- sc.Text()
			}
		}()
		var kill <-chan time.Time
		started := false
	read:
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					break read
				}
				if !started { // the timer starts with the child's first append
					started = true
					kill = time.After(time.Duration(30+37*round) * time.Millisecond)
				}
				if strings.HasPrefix(l, "error:") {
					t.Errorf("round %d: child: %s", round, l)
				}
				f := strings.Fields(l)
				if len(f) == 2 {
					id, _ := strconv.ParseUint(f[1], 10, 64)
					switch f[0] {
					case "appended":
						appended[id] = true
					case "acking":
						delete(appended, id)
					}
				}
			case <-kill:
				require.NoError(t, cmd.Process.Kill())
				kill = nil
			}
		}
		_ = cmd.Wait()

		var damage []Damage
		s, err := Open(dir, &Options{NoSync: true, OnDamage: func(d Damage) { damage = append(damage, d) }})
		require.NoError(t, err)
		assert.Empty(t, damage, "round %d: a killed process leaves no damage", round)
		back := map[uint64]bool{}
		for _, r := range pending(t, s) {
			back[r.ID] = true
		}
		for id := range appended {
			assert.True(t, back[id], "round %d: record %d, appended, not acknowledged, is back", round, id)
		}
		st := s.Stats()
		t.Logf("round %d: %d records back, %d appended and not acknowledged by the child's account", round, st.Records, len(appended))
		require.NoError(t, s.Close())
	}
}

// crashChild appends and acknowledges until it is killed, saying what returned.
func crashChild(dir string) {
	s, err := Open(dir, &Options{NoSync: true, SegmentBytes: 64 << 10, MaxBytes: -1})
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	w := bufio.NewWriter(os.Stdout)
	for i := 0; ; i++ {
		ids, err := s.Append(Record{Count: 3, Payload: payloadFor(i, 100+i%3000)})
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Fprintf(w, "appended %d\n", ids[0])
		if i%3 != 0 {
			fmt.Fprintf(w, "acking %d\n", ids[0])
			w.Flush() // the parent learns of the ack before it starts
			_ = s.Ack(ids[0])
		}
		w.Flush()
	}
}
