package ledger_test

import (
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/tallyhq/tally/ledger"
)

// Go benchmarks of the posting paths on a test database (its pool has a few
// connections; `tally bench ledger` is the full measurement with 16 clients).

func benchEnv(b *testing.B, customers int) (*env, []string) {
	b.Helper()
	e := newEnv(b)
	var codes []string
	var fund []ledger.TransferRequest
	for i := range customers {
		c := ledger.CustomerAccount(fmt.Sprintf("b%04d", i), "USDT")
		codes = append(codes, c)
		fund = append(fund, e.move("fund-"+c, openUS, c, "1000000"))
	}
	if _, err := e.l.TransferBatch(e.ctx, fund); err != nil {
		b.Fatal(err)
	}
	return e, codes
}

func BenchmarkTransferRandomAccounts(b *testing.B) {
	e, codes := benchEnv(b, 1000)
	var n atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		rng := rand.New(rand.NewPCG(uint64(n.Add(1)), 1))
		for pb.Next() {
			i, j := rng.IntN(len(codes)), rng.IntN(len(codes))
			if i == j {
				j = (j + 1) % len(codes)
			}
			if _, err := e.l.Transfer(e.ctx, e.move(fmt.Sprint("r", n.Add(1)), codes[i], codes[j], "0.01")); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkTransferHotAccount(b *testing.B) {
	e, codes := benchEnv(b, 1000)
	var n atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		rng := rand.New(rand.NewPCG(uint64(n.Add(1)), 2))
		for pb.Next() {
			c := codes[rng.IntN(len(codes))]
			if _, err := e.l.Transfer(e.ctx, e.move(fmt.Sprint("h", n.Add(1)), prov, c, "0.01")); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkTransferBatch1000(b *testing.B) {
	e, codes := benchEnv(b, 1000)
	rng := rand.New(rand.NewPCG(3, 3))
	n := 0
	b.ResetTimer()
	for range b.N {
		reqs := make([]ledger.TransferRequest, 1000)
		for i := range reqs {
			n++
			reqs[i] = e.move(fmt.Sprint("b", n), prov, codes[rng.IntN(len(codes))], "0.01")
		}
		if _, err := e.l.TransferBatch(e.ctx, reqs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "transfers/s")
}

func BenchmarkHoldAndPost(b *testing.B) {
	e, codes := benchEnv(b, 100)
	rng := rand.New(rand.NewPCG(4, 4))
	b.ResetTimer()
	for i := range b.N {
		r := e.move(fmt.Sprint("hold", i), codes[rng.IntN(len(codes))], prov, "0.01")
		r.Pending = true
		h, err := e.l.Transfer(e.ctx, r)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := e.l.PostPending(e.ctx, ledger.Resolution{Merchant: e.m, Key: fmt.Sprint("post", i), Hold: h.ID}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTransferTx is the Tx form's single-transfer path as the orders
// package uses it: begin, one TransferTx, commit, on random customer accounts.
func BenchmarkTransferTx(b *testing.B) {
	e, codes := benchEnv(b, 1000)
	rng := rand.New(rand.NewPCG(5, 5))
	b.ResetTimer()
	for i := range b.N {
		x, y := rng.IntN(len(codes)), rng.IntN(len(codes)-1)
		if y >= x {
			y++
		}
		tx, err := e.pool.Begin(e.ctx)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := e.l.TransferTx(e.ctx, tx, e.move(fmt.Sprint("tx", i), codes[x], codes[y], "0.01")); err != nil {
			b.Fatal(err)
		}
		if err := tx.Commit(e.ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTransferTxStatement is the Tx form's statement alone: 32 TransferTx
// calls per caller transaction, so that the cost of the ledger's own work per
// call is not hidden by the commit's fsync.
func BenchmarkTransferTxStatement(b *testing.B) {
	e, codes := benchEnv(b, 1000)
	rng := rand.New(rand.NewPCG(6, 6))
	var tx pgx.Tx
	defer func() {
		if tx != nil {
			_ = tx.Rollback(e.ctx)
		}
	}()
	b.ResetTimer()
	for i := range b.N {
		if tx == nil {
			var err error
			if tx, err = e.pool.Begin(e.ctx); err != nil {
				b.Fatal(err)
			}
		}
		x, y := rng.IntN(len(codes)), rng.IntN(len(codes)-1)
		if y >= x {
			y++
		}
		if _, err := e.l.TransferTx(e.ctx, tx, e.move(fmt.Sprint("txs", i), codes[x], codes[y], "0.01")); err != nil {
			b.Fatal(err)
		}
		if i%32 == 31 {
			if err := tx.Commit(e.ctx); err != nil {
				b.Fatal(err)
			}
			tx = nil
		}
	}
}
