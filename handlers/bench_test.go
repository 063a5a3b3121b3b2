package handlers_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"paydesk/store"
	"paydesk/store/storetest"
	"paydesk/stripeapi"
)

// BenchmarkWebhook delivers new, signed events from 16 concurrent senders
// over HTTP keep-alive connections into a real PostgreSQL, and reports the
// latency percentiles of the answers. It asserts nothing about time.
//
//	go test -run '^$' -bench 'BenchmarkWebhook$' -benchtime 5000x ./handlers/
func BenchmarkWebhook(b *testing.B) {
	const senders = 16
	st := storetest.New(b)
	srv := httptest.NewServer(newServer(b, st, secretOld))
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: senders}}

	// Bodies and signatures are made before the clock starts.
	type delivery struct {
		body      []byte
		signature string
	}
	deliveries := make([]delivery, b.N)
	for i := range deliveries {
		body := eventBody(fmt.Sprintf("evt_bench_%d_%d", time.Now().UnixNano(), i), stripeapi.APIVersion)
		deliveries[i] = delivery{body, sign(body, secretOld)}
	}
	latencies := make([]time.Duration, b.N)
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	for range senders {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= b.N {
					return
				}
				req, _ := http.NewRequest(http.MethodPost, srv.URL+"/webhooks/stripe", bytes.NewReader(deliveries[i].body))
				req.Header.Set("Stripe-Signature", deliveries[i].signature)
				start := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				latencies[i] = time.Since(start)
				if resp.StatusCode != http.StatusOK {
					b.Errorf("status %d", resp.StatusCode)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	slices.Sort(latencies)
	at := func(p float64) float64 {
		return float64(latencies[int(p*float64(len(latencies)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(at(0.50), "p50-ms")
	b.ReportMetric(at(0.99), "p99-ms")
	b.ReportMetric(float64(latencies[len(latencies)-1].Microseconds())/1000, "max-ms")
}

// nopIntake stores nothing, so BenchmarkWebhookHandler measures the
// receiver's own cost: reading, verifying, building the event, answering.
type nopIntake struct{}

func (nopIntake) EnqueueEvent(context.Context, store.Event) (bool, error) { return true, nil }
func (nopIntake) RecordRejectedDelivery(context.Context, string, string, []byte) error {
	return nil
}

// BenchmarkWebhookHandler runs the receiver without a network or a
// database, reporting its CPU time and allocations per delivery.
func BenchmarkWebhookHandler(b *testing.B) {
	srv := newServer(b, nopIntake{}, secretOld)
	body := eventBody("evt_handler_bench", stripeapi.APIVersion)
	signature := sign(body, secretOld)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		reader := bytes.NewReader(body)
		req := httptest.NewRequest(http.MethodPost, "/webhooks/stripe", reader)
		req.Header.Set("Stripe-Signature", signature)
		w := &discardWriter{header: http.Header{}}
		for pb.Next() {
			reader.Reset(body)
			req.Body = io.NopCloser(reader)
			clear(w.header)
			w.code = 0
			srv.ServeHTTP(w, req)
			if w.code != 0 && w.code != http.StatusOK {
				b.Fatalf("status %d", w.code)
			}
		}
	})
}

// discardWriter is a reusable ResponseWriter that keeps only the status.
type discardWriter struct {
	header http.Header
	code   int
}

func (w *discardWriter) Header() http.Header         { return w.header }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(code int)        { w.code = code }
