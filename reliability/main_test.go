package reliability_test

import (
	"fmt"
	"os"
	"testing"
)

// TestMain prints the suite's table once every test has run.
func TestMain(m *testing.M) {
	code := m.Run()
	leaked, which := leaks()
	tally.Lock()
	defer tally.Unlock()
	fmt.Printf(`
reliability summary
  requests sent                 %7d
  payments made                 %7d
  faults injected               %7d
  crashes (SIGKILL)             %7d
  events delivered              %7d
  duplicates delivered          %7d
  bad inputs tried              %7d
  5xx answered to bad input     %7d   (must be 0)
  anything lost                 %7d   (must be 0)
  secrets in logs or answers    %7d   (must be 0; %d secrets checked in %d captures)
`, tally.requests, tally.payments, tally.faults, tally.crashes, tally.delivered, tally.duplicates, tally.badInputs, tally.bad5xx, tally.lost,
		leaked, len(watch.secrets), len(watch.captured))
	if tally.bad5xx > 0 || tally.lost > 0 || leaked > 0 {
		if leaked > 0 {
			fmt.Printf("leaked: %v\n", which)
		}
		code = 1
	}
	os.Exit(code)
}
