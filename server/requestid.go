package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"net/netip"
)

// RequestIDHeader carries a request's id: tally answers every request with
// it, and believes an incoming one only from a trusted proxy.
const RequestIDHeader = "X-Request-Id"

// maxRequestIDLen bounds an incoming request id believed from a proxy.
const maxRequestIDLen = 128

type requestIDKey struct{}

// RequestID returns the id of the request ctx belongs to ("" outside one):
// what its log lines carry as request_id and its error answers as
// error.request_id.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// WithRequestID returns ctx carrying a request id (RequestID).
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// withRequestID gives every request an id: the X-Request-Id of a trusted
// proxy (Options.TrustedProxies) when it is sane, else a new random one. The
// id is in the request's context (RequestID), the X-Request-Id answer header
// and every error answer (writeError reads the header), so that a merchant's
// report of a failure leads to its log lines. An id sent by anyone else is
// ignored: a client must not choose what operators search the logs for.
func withRequestID(trusted []netip.Prefix, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(RequestIDHeader)
		if !saneRequestID(id) || !peerTrusted(r, trusted) {
			id = newRequestID()
		}
		w.Header().Set(RequestIDHeader, id)
		next.ServeHTTP(w, r.WithContext(WithRequestID(r.Context(), id)))
	})
}

// peerTrusted reports whether the request's immediate peer is a trusted proxy.
func peerTrusted(r *http.Request, trusted []netip.Prefix) bool {
	if len(trusted) == 0 {
		return false
	}
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	addr := peer.Addr().Unmap()
	if err != nil {
		addr, _ = netip.ParseAddr(r.RemoteAddr)
		addr = addr.Unmap()
	}
	return addr.IsValid() && isTrusted(addr, trusted)
}

// saneRequestID accepts 1 to 128 letters, digits and - _ . : (UUIDs, trace
// ids, load balancers' ids), nothing that could forge a log line or header.
func saneRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.', c == ':':
		default:
			return false
		}
	}
	return true
}

// newRequestID is 16 random bytes in hex.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// RequestIDHandler wraps a slog handler so that every record logged with a
// request's context (InfoContext, ErrorContext, ...) carries request_id.
// Wrapping twice adds it once.
func RequestIDHandler(h slog.Handler) slog.Handler {
	if _, ok := h.(requestIDHandler); ok {
		return h
	}
	return requestIDHandler{h}
}

// requestIDLogger is l with RequestIDHandler.
func requestIDLogger(l *slog.Logger) *slog.Logger {
	h := RequestIDHandler(l.Handler())
	if h == l.Handler() {
		return l
	}
	return slog.New(h)
}

type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, rec slog.Record) error {
	if id := RequestID(ctx); id != "" {
		rec = rec.Clone()
		rec.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, rec)
}

func (h requestIDHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(as)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}
