package console

// approvalsRoutes are the routes of the Approvals page(s): a stub until that page is
// built. Return the page's routes (each with its permission); its template
// goes in templates/approvals*.html and its nav entry is already in navItems.
func (c *Console) approvalsRoutes() []route { return nil }
