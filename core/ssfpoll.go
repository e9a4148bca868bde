package core

import (
	"bytes"
	"context"
	stdjson "encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"sync"
	"time"
)

// pollState is what the next poll reports back (RFC 8936 section 2.4):
// the jtis applied or ignored since the last poll that the transmitter
// answered, and the SETs refused, with their error codes.
type pollState struct {
	mu   sync.Mutex
	ack  map[string]bool
	errs map[string]setRefusal
}

// setErr is one setErrs member (RFC 8936 section 2.4).
type setErr struct {
	Err         string `json:"err"`
	Description string `json:"description"`
}

// pollRequest is the body of a poll (RFC 8936 section 2.4).
type pollRequest struct {
	Ack               []string          `json:"ack"`
	SetErrs           map[string]setErr `json:"setErrs,omitempty"`
	MaxEvents         int               `json:"maxEvents"`
	ReturnImmediately bool              `json:"returnImmediately"`
}

// pollResponse is the transmitter's answer (RFC 8936 section 2.5).
type pollResponse struct {
	Sets          map[string]string `json:"sets"`
	MoreAvailable bool              `json:"moreAvailable"`
}

// Poll runs one poll of SSFOptions.PollURL (RFC 8936): it sends the
// acknowledgements and errors of the SETs processed since the last answered
// poll, with maxEvents and returnImmediately, then processes the SETs
// returned. A SET is acknowledged on the next poll once applied (or
// ignored), reported in setErrs when refused, and left unacknowledged
// when it cannot be applied now, so that the transmitter delivers it
// again. It reports whether the transmitter says more are available. The
// background poller calls it; a test or a manual trigger may too.
func (s *SSF) Poll(ctx context.Context) (more bool, err error) {
	if s.opts.PollURL == "" {
		return false, configErr("SSFOptions.PollURL is not set")
	}
	s.pollMu.Lock()
	defer s.pollMu.Unlock()
	st := &s.poll
	st.mu.Lock()
	req := pollRequest{Ack: []string{}, MaxEvents: s.opts.MaxEvents, ReturnImmediately: true}
	for jti := range st.ack {
		req.Ack = append(req.Ack, jti)
	}
	sort.Strings(req.Ack)
	if len(st.errs) > 0 {
		req.SetErrs = map[string]setErr{}
		for jti, r := range st.errs {
			req.SetErrs[jti] = setErr{Err: r.code, Description: setDescriptions[r.code]}
		}
	}
	st.mu.Unlock()
	resp, err := s.pollOnce(ctx, req)
	if err != nil {
		return false, err
	}
	// The transmitter has the acks and errors it was sent.
	st.mu.Lock()
	for _, jti := range req.Ack {
		delete(st.ack, jti)
	}
	for jti := range req.SetErrs {
		delete(st.errs, jti)
	}
	st.mu.Unlock()
	var failed error
	jtis := make([]string, 0, len(resp.Sets))
	for jti := range resp.Sets {
		jtis = append(jtis, jti)
	}
	sort.Strings(jtis)
	for _, jti := range jtis {
		if len(jti) == 0 || len(jti) > maxJTILen {
			continue // cannot be acknowledged either
		}
		ref, err := s.process(ctx, resp.Sets[jti], jti, true)
		st.mu.Lock()
		switch {
		case err != nil:
			failed = err // neither ack nor error: delivered again
		case ref != nil:
			s.a.log.LogAttrs(ctx, slog.LevelDebug, "authgate: polled security event refused", slog.String("err", ref.code), slog.String("cause", ref.cause))
			st.errs[jti] = *ref
		default:
			st.ack[jti] = true
		}
		st.mu.Unlock()
	}
	if failed != nil {
		return resp.MoreAvailable, failed
	}
	return resp.MoreAvailable, nil
}

// pollOnce POSTs req to the poll endpoint and reads its answer, bounded.
func (s *SSF) pollOnce(ctx context.Context, req pollRequest) (*pollResponse, error) {
	body, err := stdjson.Marshal(req)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.a.cfg.FetchTimeout)
	defer cancel()
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, s.opts.PollURL, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("Accept", "application/json")
	if s.opts.PollToken != "" {
		hr.Header.Set("Authorization", "Bearer "+s.opts.PollToken)
	}
	res, err := s.client.Do(hr)
	if err != nil {
		return nil, fmt.Errorf("poll: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 4<<10))
		return nil, fmt.Errorf("poll: status %d", res.StatusCode)
	}
	limit := min(int64(s.opts.MaxEvents)*s.opts.MaxBodySize+4<<10, maxPollResponse)
	raw, err := io.ReadAll(io.LimitReader(res.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("poll: %w", err)
	}
	if int64(len(raw)) > limit {
		return nil, fmt.Errorf("poll: answer larger than %d bytes", limit)
	}
	var out pollResponse
	if err := strictUnmarshal(raw, &out); err != nil {
		return nil, errors.New("poll: the answer is not a valid poll response (RFC 8936 section 2.5)")
	}
	if len(out.Sets) > s.opts.MaxEvents {
		return nil, fmt.Errorf("poll: %d SETs, more than maxEvents %d", len(out.Sets), s.opts.MaxEvents)
	}
	return &out, nil
}

// pollLoop polls until ctx ends: again at once while more are available,
// else after PollInterval (also after a failure). At the end it sends the
// pending acknowledgements once, asking for no more SETs.
func (s *SSF) pollLoop(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			s.flushAcks()
			return
		case <-t.C:
		}
		more, err := s.Poll(ctx)
		if err != nil && ctx.Err() == nil {
			s.a.log.LogAttrs(ctx, slog.LevelWarn, "authgate: SSF poll failed; retrying", slog.String("error", errorText(err)))
		}
		wait := s.opts.PollInterval
		if more && err == nil {
			wait = 0
		}
		t.Reset(wait)
	}
}

// flushAcks sends the pending acknowledgements and errors with maxEvents 0
// (RFC 8936 section 2.4: acknowledge only), within FetchTimeout.
func (s *SSF) flushAcks() {
	s.pollMu.Lock()
	defer s.pollMu.Unlock()
	st := &s.poll
	st.mu.Lock()
	if len(st.ack) == 0 && len(st.errs) == 0 {
		st.mu.Unlock()
		return
	}
	req := pollRequest{Ack: []string{}, MaxEvents: 0, ReturnImmediately: true}
	for jti := range st.ack {
		req.Ack = append(req.Ack, jti)
	}
	sort.Strings(req.Ack)
	if len(st.errs) > 0 {
		req.SetErrs = map[string]setErr{}
		for jti, r := range st.errs {
			req.SetErrs[jti] = setErr{Err: r.code, Description: setDescriptions[r.code]}
		}
	}
	st.mu.Unlock()
	if _, err := s.pollOnce(context.Background(), req); err != nil {
		s.a.log.LogAttrs(context.Background(), slog.LevelWarn, "authgate: SSF final acknowledgement failed; the transmitter will deliver those SETs again",
			slog.String("error", errorText(err)))
	}
}
