package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// usage is a process's CPU time and memory at one moment.
type usage struct {
	cpu   time.Duration // user + system
	rssKB int64         // VmRSS: resident now
	hwmKB int64         // VmHWM: peak resident
	ok    bool
}

// selfUsage reads this process's CPU time (getrusage) and resident memory
// (/proc/self/status).
func selfUsage() usage {
	var ru syscall.Rusage
	u := usage{}
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		u.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		u.ok = true
	}
	u.rssKB, u.hwmKB = memory("/proc/self/status")
	return u
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat's CPU times: 100 on
// every Linux architecture Go supports.
const clockTicks = 100

// pidUsage reads another process's CPU time and memory from /proc.
func pidUsage(pid int) (usage, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return usage{}, err
	}
	// The command name is in parentheses and may hold spaces: fields
	// after it are counted from the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return usage{}, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return usage{}, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return usage{}, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	u := usage{cpu: time.Duration(ut+st) * time.Second / clockTicks, ok: true}
	u.rssKB, u.hwmKB = memory(fmt.Sprintf("/proc/%d/status", pid))
	return u, nil
}

// memory reads VmRSS and VmHWM (kB) from a /proc status file; 0 if absent.
func memory(path string) (rss, hwm int64) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		var dst *int64
		switch {
		case strings.HasPrefix(line, "VmRSS:"):
			dst = &rss
		case strings.HasPrefix(line, "VmHWM:"):
			dst = &hwm
		default:
			continue
		}
		fs := strings.Fields(line)
		if len(fs) >= 2 {
			*dst, _ = strconv.ParseInt(fs[1], 10, 64)
		}
	}
	return rss, hwm
}
