package callbacks

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestClosedServiceTakesNothing: Close stops the loops New started, and a
// closed Service refuses every callback with ErrClosed (the ingress answers
// 503, a job retries) instead of handing it to a loop that is gone.
func TestClosedServiceTakesNothing(t *testing.T) {
	s := New(nil, nil, nil, nil, nil, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		t.Fatalf("close an idle service: %v", err)
	}
	if _, err := s.intake.store(ctx, &intakeItem{done: make(chan intakeResult, 1)}); !errors.Is(err, ErrClosed) {
		t.Errorf("intake after close: %v, want ErrClosed", err)
	}
	if err := s.Process(ctx, 1, 2); !errors.Is(err, ErrClosed) {
		t.Errorf("process after close: %v, want ErrClosed", err)
	}
	if err := s.Close(ctx); err != nil {
		t.Errorf("close twice: %v", err)
	}
}

// TestCloseGivesUpWhenItsContextEnds: a hand-in waiting for room in a full
// queue whose loops are stuck ends with ErrClosed once Close's context ends,
// and Close says it did not drain.
func TestCloseGivesUpWhenItsContextEnds(t *testing.T) {
	s := New(nil, nil, nil, nil, nil, Options{NoGroups: true})
	// Stand-ins for committers that are stuck: the real ones are stopped
	// first, then the queue is filled and nobody reads it.
	stuck := make(chan *intakeItem)
	close(s.intake.ch)
	s.loops.Wait()
	s.intake.ch = stuck
	s.loops.Add(1)
	go func() {
		defer s.loops.Done()
		<-s.ctx.Done() // a transaction that ends only when cancelled
	}()
	waiting := make(chan error, 1)
	go func() {
		_, err := s.intake.store(context.Background(), &intakeItem{done: make(chan intakeResult, 1)})
		waiting <- err
	}()
	time.Sleep(50 * time.Millisecond) // the hand-in is waiting for room
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := s.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("close with a stuck loop: %v, want the context's error", err)
	}
	select {
	case err := <-waiting:
		if !errors.Is(err, ErrClosed) {
			t.Errorf("the waiting hand-in: %v, want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the waiting hand-in never returned")
	}
}
