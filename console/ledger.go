package console

// ledgerRoutes are the routes of the Ledger page(s): a stub until that page is
// built. Return the page's routes (each with its permission); its template
// goes in templates/ledger*.html and its nav entry is already in navItems.
func (c *Console) ledgerRoutes() []route { return nil }
