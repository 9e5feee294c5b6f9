package console

// ordersRoutes are the routes of the Orders page(s): a stub until that page is
// built. Return the page's routes (each with its permission); its template
// goes in templates/orders*.html and its nav entry is already in navItems.
func (c *Console) ordersRoutes() []route { return nil }
