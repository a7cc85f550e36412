package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Service is a program the benchmark started.
type Service interface {
	// PeakRSSMB is the peak resident memory so far (VmHWM), in MiB.
	PeakRSSMB() (float64, error)
	// Stop ends the program gracefully, killing it after a bound.
	Stop() error
}

// Build compiles the packages (e.g. "./cmd/bulker") from the module at dir
// into out and returns the binaries' paths by package.
func Build(ctx context.Context, dir, out string, pkgs ...string) (map[string]string, error) {
	paths := map[string]string{}
	args := []string{"build", "-o", out + string(os.PathSeparator)}
	for _, p := range pkgs {
		args = append(args, p)
		paths[p] = filepath.Join(out, filepath.Base(p))
	}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build %s: %w\n%s", strings.Join(pkgs, " "), err, b)
	}
	return paths, nil
}

// Proc is a child process with its output kept in a log file.
type Proc struct {
	name string
	cmd  *exec.Cmd
	log  *os.File
	done chan struct{}
	err  error

	mu    sync.Mutex
	lines []string // lines of interest seen on stdout (see Watch)
	watch string
	first time.Time // when the first watched line arrived
}

// Start runs bin with args and env (added to a minimal environment);
// output goes to logDir/name.log.
func Start(name, bin string, args, env []string, logDir string) (*Proc, error) {
	f, err := os.Create(filepath.Join(logDir, name+".log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	p := &Proc{name: name, cmd: cmd, log: f, done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	go p.copy(pr)
	go func() {
		p.err = cmd.Wait()
		_ = pw.Close()
		close(p.done)
	}()
	return p, nil
}

func (p *Proc) copy(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Bytes()
		_, _ = p.log.Write(append(line, '\n'))
		p.mu.Lock()
		if p.watch != "" && bytes.Contains(line, []byte(p.watch)) {
			if len(p.lines) == 0 {
				p.first = time.Now()
			}
			p.lines = append(p.lines, string(line))
		}
		p.mu.Unlock()
	}
	_, _ = io.Copy(io.Discard, r)
}

// Watch keeps the output lines holding s from now on.
func (p *Proc) Watch(s string) {
	p.mu.Lock()
	p.watch, p.lines = s, nil
	p.mu.Unlock()
}

// Seen returns how many watched lines arrived and when the first did.
func (p *Proc) Seen() (int, time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.lines), p.first
}

// Pid is the child's process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Exited reports, without blocking, whether the child ended and how.
func (p *Proc) Exited() (bool, error) {
	select {
	case <-p.done:
		if p.err == nil {
			return true, fmt.Errorf("%s exited (see %s)", p.name, p.log.Name())
		}
		return true, fmt.Errorf("%s exited: %w (see %s)", p.name, p.err, p.log.Name())
	default:
		return false, nil
	}
}

// PeakRSSMB reads VmHWM from /proc.
func (p *Proc) PeakRSSMB() (float64, error) { return ProcStatusMB(p.Pid(), "VmHWM") }

// RSSMB reads the current VmRSS from /proc.
func (p *Proc) RSSMB() (float64, error) { return ProcStatusMB(p.Pid(), "VmRSS") }

// Stop sends SIGTERM and waits up to 20 s before killing.
func (p *Proc) Stop() error {
	defer p.log.Close()
	select {
	case <-p.done:
		return nil
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("%s did not stop within 20s after SIGTERM; killed", p.name)
	}
}

// ProcStatusMB reads a kB field of /proc/<pid>/status in MiB.
func ProcStatusMB(pid int, field string) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			if err != nil {
				return 0, fmt.Errorf("parsing %s of %d: %w", field, pid, err)
			}
			return kb / 1024, nil
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// FreeAddr returns a free loopback host:port.
func FreeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// WaitTCP waits until addr accepts connections, p is alive and timeout
// has not passed.
func WaitTCP(ctx context.Context, p *Proc, addr string, timeout time.Duration) error {
	return poll(ctx, p, timeout, func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return false
		}
		_ = c.Close()
		return true
	}, "listening on "+addr)
}

// WaitHTTP waits until GET url answers 200.
func WaitHTTP(ctx context.Context, p *Proc, url string, timeout time.Duration) error {
	client := &http.Client{Timeout: time.Second}
	return poll(ctx, p, timeout, func() bool {
		resp, err := client.Get(url)
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, "GET "+url+" answering 200")
}

func poll(ctx context.Context, p *Proc, timeout time.Duration, ok func() bool, what string) error {
	deadline := time.Now().Add(timeout)
	for {
		if ok() {
			return nil
		}
		if p != nil {
			if exited, err := p.Exited(); exited {
				return err
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("waiting %s for %s: timed out", timeout, what)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// CPUSeconds is the user+system CPU time the child used so far.
func (p *Proc) CPUSeconds() (float64, error) { return ProcCPUSeconds(p.Pid()) }

// ProcCPUSeconds reads utime+stime of pid from /proc/<pid>/stat.
func ProcCPUSeconds(pid int) (float64, error) {
	own, _, err := procTimes(pid)
	return own, err
}

// procTimes reads pid's own CPU time (utime+stime) and that of the
// children it has reaped (cutime+cstime).
func procTimes(pid int) (own, children float64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	// Fields after the parenthesised command name; utime, stime, cutime
	// and cstime are the 14th to 17th fields of the line, in clock ticks
	// (USER_HZ, 100 on Linux).
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	f := strings.Fields(s[i+1:])
	if len(f) < 15 {
		return 0, 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	var ticks [4]float64
	for j := range ticks {
		if ticks[j], err = strconv.ParseFloat(f[11+j], 64); err != nil {
			return 0, 0, fmt.Errorf("parsing /proc/%d/stat", pid)
		}
	}
	return (ticks[0] + ticks[1]) / 100, (ticks[2] + ticks[3]) / 100, nil
}

// CommCPUSeconds reads the CPU time of every process whose command name is
// comm (a local PostgreSQL's backends are all "postgres"), by pid, each
// with that of the children it has reaped: the time of a backend that
// ended is then in its postmaster's.
func CommCPUSeconds(comm string) map[int]float64 {
	// A child reaped while /proc is read can count twice, in its own entry
	// and in its parent's: read again until no parent reaped one meanwhile.
	_, before := commCPU(comm)
	for try := 0; ; try++ {
		out, _ := commCPU(comm)
		_, after := commCPU(comm)
		if try == 3 || !reaped(before, after) {
			return out
		}
		before = after
	}
}

// commCPU is one pass of CommCPUSeconds, with each process's reaped
// children's time apart.
func commCPU(comm string) (total, children map[int]float64) {
	total, children = map[int]float64{}, map[int]float64{}
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); err != nil || strings.TrimSpace(string(b)) != comm {
			continue
		}
		if own, ch, err := procTimes(pid); err == nil {
			total[pid], children[pid] = own+ch, ch
		}
	}
	return total, children
}

// reaped reports whether a process reaped a child between two readings
// of its children's time.
func reaped(before, after map[int]float64) bool {
	for pid, was := range before {
		if now, ok := after[pid]; ok && now != was {
			return true
		}
	}
	return false
}

// CommCPUMeter starts counting the CPU time of the processes named comm
// (see CommCPUSeconds); the returned function says how much they used
// since. Processes started meanwhile count from zero. One that ended is,
// once reaped by a parent also named comm (a backend by its postmaster),
// in that parent's time with all it used, so what it had used at the
// start is taken off. A process whose parent is named otherwise (the
// postmaster itself) would be taken off without being added back.
func CommCPUMeter(comm string) func() float64 {
	start := CommCPUSeconds(comm)
	return func() float64 {
		now := CommCPUSeconds(comm)
		used := 0.0
		for pid, s := range now {
			used += s - start[pid]
		}
		for pid, s := range start {
			if _, ok := now[pid]; !ok {
				used -= s
			}
		}
		return used
	}
}
