package console

// discrepancyRoutes are the routes of the Discrepancy detail page(s): a stub until that page is
// built. Return the page's routes (each with its permission); its template
// goes in templates/discrepancy*.html and its nav entry is already in navItems.
func (c *Console) discrepancyRoutes() []route { return nil }
