package recon

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/merchants"
	"github.com/tallyhq/tally/orders"
	"github.com/tallyhq/tally/providers"
)

// Orders is what reconciliation needs of the order lifecycle; *orders.Service
// is it. A run reads orders only through it (never the orders tables), and
// moves them only through its state machine.
type Orders interface {
	// CreatedIn is a page, by id, of an account's orders created in [from, to).
	CreatedIn(ctx context.Context, providerAccountID int64, from, to time.Time, afterID int64, limit int32) ([]orders.Order, error)
	// Overdue is a page, by id, of an account's open orders past a deadline.
	Overdue(ctx context.Context, q orders.OverdueQuery) ([]orders.Order, error)
	// SettledRefs is a page, by provider order number, of an account's orders
	// settled in [from, to).
	SettledRefs(ctx context.Context, providerAccountID int64, from, to time.Time, afterNo string, limit int32) ([]orders.Ref, error)
	// ByProviderRefs are an account's orders with any of the numbers or
	// provider ids, by id.
	ByProviderRefs(ctx context.Context, providerAccountID int64, orderNos, providerOrderIDs []string) ([]orders.Order, error)
	// ByIDs and Refs read orders by id, whole or as refs.
	ByIDs(ctx context.Context, ids []int64) ([]orders.Order, error)
	Refs(ctx context.Context, ids []int64) ([]orders.Ref, error)
	// Get reads one order (merchantID 0: any merchant's).
	Get(ctx context.Context, merchantID, id int64) (orders.Order, error)

	// Apply moves an order through the state machine on a provider's word: a
	// run's repair.
	Apply(ctx context.Context, orderID int64, ev providers.Event, source string, ref map[string]any) (orders.SyncResult, error)
	// CompleteFee books a fee the settlement did not state.
	CompleteFee(ctx context.Context, orderID int64, fee decimal.Decimal, currency, source string, ref map[string]any) (bool, error)
	// InFlightTx is what accepted callbacks not yet applied will move on an
	// account's clearing balance, read in tx.
	InFlightTx(ctx context.Context, tx pgx.Tx, providerAccountID int64) (map[string]decimal.Decimal, error)
	// CreateTx creates refund_payer's payout in the resolution's transaction.
	CreateTx(ctx context.Context, tx pgx.Tx, req orders.CreateRequest) (orders.Order, bool, error)

	// Adapter, AdapterByID and NotifyURL are the provider accounts' adapters
	// (and callback URL) the order pipeline keeps.
	Adapter(ctx context.Context, merchantID int64, name string) (providers.Adapter, merchants.ProviderAccount, error)
	AdapterByID(ctx context.Context, id int64) (providers.Adapter, merchants.ProviderAccount, error)
	NotifyURL(acct merchants.ProviderAccount) string
}

var _ Orders = (*orders.Service)(nil)
