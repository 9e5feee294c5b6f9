package console

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tallyhq/tally/merchants"
	"github.com/tallyhq/tally/orders"
	"github.com/tallyhq/tally/webhooks"
)

// ordersRoutes serve the Orders page: a search over the orders of the
// merchants the user sees, and an order's detail with its timeline (the
// staff's, with the provider's own words) and every webhook delivery
// attempt.
func (c *Console) ordersRoutes() []route {
	return []route{
		{Pattern: "GET " + Prefix + "/orders", Handler: c.ordersPage},
		{Pattern: "GET " + Prefix + "/orders/{id}", Handler: c.orderPage},
	}
}

// orderStatuses are the statuses the search offers.
var orderStatuses = []orders.Status{orders.StatusCreated, orders.StatusPending, orders.StatusProcessing,
	orders.StatusSucceeded, orders.StatusFailed, orders.StatusExpired, orders.StatusReversed}

// orderAccount is a provider account the order search offers.
type orderAccount struct {
	ID    int64
	Label string
}

type ordersData struct {
	Merchants []merchants.Merchant
	Accounts  []orderAccount
	Statuses  []orders.Status
	// The filters as the form shows them.
	Merchant        int64
	OrderNo         string
	ProviderOrderID string
	Customer        string
	Status          string
	Kind            string
	Account         int64
	From, To        string
	Orders          []orders.Order
	// MerchantNames names each order's merchant.
	MerchantNames map[int64]string
	Pager         pager
	Searched      bool
}

func (c *Console) ordersPage(w http.ResponseWriter, r *http.Request) {
	u := userFrom(r.Context())
	q := r.URL.Query()
	d := ordersData{Statuses: orderStatuses, MerchantNames: map[int64]string{},
		OrderNo: strings.TrimSpace(q.Get("order_no")), ProviderOrderID: strings.TrimSpace(q.Get("provider_order_id")),
		Customer: strings.TrimSpace(q.Get("customer")), Status: q.Get("status"), Kind: q.Get("kind"),
		From: q.Get("from"), To: q.Get("to")}
	var err error
	if d.Merchant, err = formInt64(r, "merchant"); err != nil {
		c.badRequest(w, r, err.Error())
		return
	}
	if d.Account, err = formInt64(r, "account"); err != nil {
		c.badRequest(w, r, err.Error())
		return
	}
	scope, err := merchantScope(u, d.Merchant)
	if err != nil {
		c.forbidden(w, r)
		return
	}
	if d.Merchants, err = c.visibleMerchants(r.Context(), u); err != nil {
		c.fail(w, r, err)
		return
	}
	for _, m := range d.Merchants {
		d.MerchantNames[m.ID] = m.Name
		if d.Merchant != 0 && m.ID != d.Merchant {
			continue
		}
		accts, err := c.deps.Merchants.ProviderAccounts(r.Context(), m.ID)
		if err != nil {
			c.fail(w, r, err)
			return
		}
		for _, a := range accts {
			d.Accounts = append(d.Accounts, orderAccount{ID: a.ID, Label: m.Code + " · " + a.Name})
		}
	}
	f := orders.SearchFilter{MerchantIDs: scope, OrderNo: d.OrderNo, ProviderOrderID: d.ProviderOrderID, CustomerID: d.Customer,
		Status: orders.Status(d.Status), Kind: orders.Kind(d.Kind), Cursor: q.Get("cursor"), Limit: int32(c.opts.PageSize)}
	if d.Account != 0 {
		// Only an account of a merchant the user sees.
		ok := false
		for _, a := range d.Accounts {
			ok = ok || a.ID == d.Account
		}
		if !ok {
			c.forbidden(w, r)
			return
		}
		f.ProviderAccountID = d.Account
	}
	if d.From != "" {
		if f.From, err = time.Parse(time.DateOnly, d.From); err != nil {
			c.badRequest(w, r, "From is not a date (YYYY-MM-DD).")
			return
		}
	}
	if d.To != "" {
		t, err := time.Parse(time.DateOnly, d.To)
		if err != nil {
			c.badRequest(w, r, "To is not a date (YYYY-MM-DD).")
			return
		}
		f.To = t.AddDate(0, 0, 1)
	}
	page, err := c.deps.Orders.Search(r.Context(), f)
	if errors.Is(err, orders.ErrInvalid) {
		c.badRequest(w, r, "This page link is not valid: start from the first page.")
		return
	}
	if err != nil {
		c.fail(w, r, err)
		return
	}
	d.Orders, d.Pager = page.Orders, newPager(r, page.Next)
	d.Searched = len(q) > 0
	c.render(w, r, http.StatusOK, "orders.html", "Orders", d)
}

type orderData struct {
	Order      orders.Order
	Merchant   merchants.Merchant
	Timeline   []orderEventRow
	Deliveries []webhooks.Delivery
	// DeliveriesOlder links to the next older page of deliveries ("" when
	// none is older); DeliveriesNewest back to the newest ("" on it).
	DeliveriesOlder, DeliveriesNewest string
	Request                           string
}

// orderEventRow is one event of an order's timeline with its detail
// indented for reading.
type orderEventRow struct {
	orders.TimelineEntry
	DetailText string
}

// deliveriesPage is how many webhook delivery attempts an order page shows
// at once, newest first; older ones are a keyset page away
// (?deliveries_before=<id>).
const deliveriesPage = 100

func (c *Console) orderPage(w http.ResponseWriter, r *http.Request) {
	u := userFrom(r.Context())
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		c.notFound(w, r)
		return
	}
	o, err := c.deps.Orders.Get(r.Context(), 0, id)
	if errors.Is(err, orders.ErrNotFound) || (err == nil && !u.SeesMerchant(o.MerchantID)) {
		c.notFound(w, r)
		return
	}
	if err != nil {
		c.fail(w, r, err)
		return
	}
	d := orderData{Order: o, Request: indentJSON(o.Request)}
	if c.deps.Merchants != nil {
		if d.Merchant, err = c.deps.Merchants.MerchantByID(r.Context(), o.MerchantID); err != nil {
			c.fail(w, r, err)
			return
		}
	}
	tl, err := c.deps.Orders.StaffTimeline(r.Context(), id)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	for _, e := range tl {
		d.Timeline = append(d.Timeline, orderEventRow{TimelineEntry: e, DetailText: indentJSON(e.Detail)})
	}
	if c.deps.Webhooks != nil {
		var before int64
		if v := r.URL.Query().Get("deliveries_before"); v != "" {
			if before, err = strconv.ParseInt(v, 10, 64); err != nil || before <= 0 {
				c.badRequest(w, r, "deliveries_before: not a page of this list.")
				return
			}
			d.DeliveriesNewest = withParam(r, "deliveries_before", "")
		}
		// One more than a page says whether an older page exists.
		ds, err := c.deps.Webhooks.Deliveries(r.Context(), o.MerchantID, id, before, deliveriesPage+1)
		if err != nil {
			c.fail(w, r, err)
			return
		}
		if len(ds) > deliveriesPage {
			ds = ds[:deliveriesPage]
			d.DeliveriesOlder = withParam(r, "deliveries_before", strconv.FormatInt(ds[len(ds)-1].ID, 10))
		}
		d.Deliveries = ds
	}
	c.render(w, r, http.StatusOK, "orders_detail.html", fmt.Sprintf("Order %d", id), d)
}

// indentJSON is a JSON document indented for reading ("" for none).
func indentJSON(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "{}" || string(raw) == "null" {
		return ""
	}
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		return string(raw)
	}
	return b.String()
}
