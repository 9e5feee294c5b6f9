package console

// adminRoutes are the routes of the Admin page(s): a stub until that page is
// built. Return the page's routes (each with its permission); its template
// goes in templates/admin*.html and its nav entry is already in navItems.
func (c *Console) adminRoutes() []route { return nil }
