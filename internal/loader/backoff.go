package loader

import (
	"context"
	"time"
)

// Waits between attempts.
const (
	// firstBackoff is untilDone's first wait; it doubles up to maxBackoff.
	firstBackoff = time.Second
	maxBackoff   = time.Minute
	// pollPause is the wait after a failed poll of Kafka, whose client
	// retries on its own; the pause only keeps the log readable.
	pollPause = time.Second
	// restartPause is the wait before a consumer that failed to start is
	// started again.
	restartPause = 5 * time.Second
)

// untilDone calls try until it succeeds or retry ends, waiting 1 s, 2 s,
// 4 s … at most a minute between attempts; failed sees each failure first.
// An attempt under way runs on its own context: retry ending only stops
// the next one from starting, so that a shutdown does not wait out the
// backoff of a destination that is down.
func untilDone(retry context.Context, try func() error, failed func(attempt int, err error, wait time.Duration)) error {
	backoff := firstBackoff
	for attempt := 1; ; attempt++ {
		err := try()
		if err == nil {
			return nil
		}
		if retry.Err() != nil {
			return retry.Err()
		}
		failed(attempt, err, backoff)
		if !sleep(retry, backoff) {
			return retry.Err()
		}
		backoff = min(backoff*2, maxBackoff)
	}
}

// graceful returns a context that ends grace after parent does.
func graceful(parent context.Context, grace time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(parent))
	stop := context.AfterFunc(parent, func() { time.AfterFunc(grace, cancel) })
	return ctx, func() {
		stop()
		cancel()
	}
}

// sleep waits d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
