package console

// runsRoutes are the routes of the Runs page(s): a stub until that page is
// built. Return the page's routes (each with its permission); its template
// goes in templates/runs*.html and its nav entry is already in navItems.
func (c *Console) runsRoutes() []route { return nil }
