package bus

import (
	"context"
	"errors"
	"sync"
)

// Merge fans several subscribers into one. Each source keeps its own order;
// sources interleave in arrival order. The merged subscriber ends (io.EOF)
// when every source has ended.
func Merge[T any](subs ...Subscriber[T]) Subscriber[T] {
	b := NewInProc[T](0)
	m := &merged[T]{Subscriber: b.Subscribe(), subs: subs}
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	var wg sync.WaitGroup
	for _, s := range subs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				items, err := s.Next(ctx)
				if err != nil {
					return
				}
				if b.PublishBatch(items) != nil {
					return
				}
			}
		}()
	}
	go func() { wg.Wait(); _ = b.Close() }()
	return m
}

type merged[T any] struct {
	Subscriber[T]
	subs   []Subscriber[T]
	cancel context.CancelFunc
	once   sync.Once
}

func (m *merged[T]) Close() error {
	var errs []error
	m.once.Do(func() {
		m.cancel()
		errs = append(errs, m.Subscriber.Close())
		for _, s := range m.subs {
			errs = append(errs, s.Close())
		}
	})
	return errors.Join(errs...)
}
