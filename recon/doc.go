// Package recon reconciles every provider account against the ledger: orders
// against the providers' query APIs or an imported settlement statement,
// provider balances against the clearing accounts (with amounts in flight
// accounted for), and the ledger's own invariants, in durable runs that
// checkpoint their progress. Every disagreement becomes a discrepancy (package
// discrepancies); one a later run finds consistent is closed automatically.
// Accountants resolve the rest with the resolutions of this package, each
// posting its adjusting transfer.
package recon
