package ingest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/streamforge/streamforge/internal/replay"
)

type fakeReplayer struct {
	got []replay.Request
	res replay.Result
	err error
}

func (f *fakeReplayer) Replay(_ context.Context, req replay.Request) (replay.Result, error) {
	f.got = append(f.got, req)
	return f.res, f.err
}

func TestReplayEndpoint(t *testing.T) {
	tests := []struct {
		name   string
		target string
		err    error
		code   int
		want   *replay.Request // what the replayer is asked
		body   string          // in the answer
	}{
		{"table", "/failed/pg/replay?tableName=t", nil, 200,
			&replay.Request{Destination: "pg", Table: "t"}, `{"success":true,"replayed":["0:1"],"alreadyReplayed":["0:2"]}`},
		{"ids", "/failed/pg/replay?ids=0:1,+old:0:2,,&force=true", nil, 200,
			&replay.Request{Destination: "pg", IDs: []string{"0:1", "old:0:2"}, Force: true}, `"success":true`},
		{"bad force", "/failed/pg/replay?tableName=t&force=maybe", nil, 400, nil, "force: want true or false"},
		{"bad request", "/failed/pg/replay", fmt.Errorf("%w: name a table", replay.ErrBadRequest), 400,
			&replay.Request{Destination: "pg"}, "name a table"},
		{"kafka down", "/failed/pg/replay?tableName=t", errors.New("reading markers: broker unreachable"), 503,
			&replay.Request{Destination: "pg", Table: "t"}, "replay failed: reading markers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeReplayer{res: replay.Result{Replayed: []string{"0:1"}, AlreadyReplayed: []string{"0:2"}}, err: tt.err}
			e := newEnv(t, true, func(s *setup) { s.Replay = f })
			r := e.do(t, "POST", tt.target, "", "Bearer "+rawToken)
			if r.code != tt.code || !strings.Contains(r.body, tt.body) {
				t.Errorf("%d %s, want %d with %s", r.code, r.body, tt.code, tt.body)
			}
			if tt.want == nil && len(f.got) != 0 || tt.want != nil && (len(f.got) != 1 || !reflect.DeepEqual(f.got[0], *tt.want)) {
				t.Errorf("replayer asked %+v, want %+v", f.got, tt.want)
			}
			if r := e.do(t, "POST", tt.target, "", ""); r.code != 401 {
				t.Errorf("without a token: %d", r.code)
			}
		})
	}
	if r := newEnv(t, false).do(t, "POST", "/failed/pg/replay?tableName=t", "", ""); r.code != 501 {
		t.Errorf("no replayer: %d", r.code)
	}
}
